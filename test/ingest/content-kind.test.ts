// Inputs known by their content: a log renamed out of its extension, an archive under another name, an
// archive inside an archive, and JSON written as UTF-16 (Windows PowerShell 5.1's `Out-File` and `>`).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { peek, textEncoding, utf16ToUtf8 } from '../../ingest/json/content.js';
import { fileKind, signature } from '../../ingest/kind.js';
import { listInputs } from '../../ingest/sources.js';
import { member, writeTar, writeZip } from '../support/archives.js';
import { referenceRecords } from '../support/corpus.js';
import { normalizeAll, poolOutput, withoutProvenance, type Normalized } from '../support/normalized.js';
import { toWinlogbeat6 } from '../support/shapes.js';
import type { NormalizedEvent } from '../../schemas/event.js';
import { HAVE_SHARED, REPO_ROOT, sharedPath, SKIP_NO_SHARED } from '../support/shared.js';

const R1 = 'R1_RemotePowerShell_MS_Windows-Remote_Management_EventID_169.evtx';
const L6 = 'L6_new-user-security.evtx';
const corpus = (f: string): string => sharedPath('corpus', f);

async function* chunksOf(...parts: (string | Buffer)[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield typeof p === 'string' ? Buffer.from(p, 'latin1') : p;
}

async function all(src: AsyncIterable<Buffer>): Promise<Buffer> {
  const got: Buffer[] = [];
  for await (const c of src) got.push(c);
  return Buffer.concat(got);
}

test('signatures: EVTX file and carved chunk, zip (member, empty, spanned), gzip, tar; JSON and damage have none', () => {
  assert.equal(signature(Buffer.from('ElfFile\0rest', 'latin1')), 'evtx');
  assert.equal(signature(Buffer.from('ElfChnk\0rest', 'latin1')), 'evtx');
  assert.equal(signature(Buffer.from('ElfFile', 'latin1')), undefined, 'cut before its NUL');
  for (const z of ['PK\x03\x04', 'PK\x05\x06', 'PK\x07\x08']) assert.equal(signature(Buffer.from(z + 'xxxx', 'latin1')), 'zip');
  assert.equal(signature(Buffer.from('PK\x01\x02', 'latin1')), undefined, 'a central-directory header does not start a zip');
  assert.equal(signature(gzipSync('{}')), 'gzip');
  const tar = Buffer.alloc(512);
  tar.write('ustar', 257, 'latin1');
  assert.equal(signature(tar), 'tar');
  assert.equal(signature(tar.subarray(0, 260)), undefined, 'too short to hold the tar magic');
  assert.equal(signature(Buffer.from('{"EventID": 4624}')), undefined);
  assert.equal(signature(Buffer.alloc(4096)), undefined, 'a zeroed header');
  assert.equal(signature(Buffer.alloc(0)), undefined);
});

test('text encodings: UTF-16 by its byte-order mark or by the NUL beside the first ASCII character', () => {
  assert.equal(textEncoding(Buffer.from('\ufeff{}', 'utf16le')), 'utf16le');
  assert.equal(textEncoding(Buffer.from([0xfe, 0xff, 0, 0x7b])), 'utf16be');
  assert.equal(textEncoding(Buffer.from('[{}]', 'utf16le')), 'utf16le');
  assert.equal(textEncoding(Buffer.from([0, 0x7b, 0, 0x7d])), 'utf16be');
  assert.equal(textEncoding(Buffer.from('\ufeff{}', 'utf8')), 'utf8', 'a UTF-8 BOM is the splitter\'s business');
  assert.equal(textEncoding(Buffer.from('{"a":1}')), 'utf8');
  assert.equal(textEncoding(Buffer.from([0, 0, 0, 0])), 'utf8', 'zeros are damage, not UTF-16');
  assert.equal(textEncoding(Buffer.from([0x7b])), 'utf8');
});

test('UTF-16 to UTF-8 keeps characters split across chunks whole (odd byte counts, surrogate pairs)', async () => {
  const text = '{"Message":"Ünïcødé 🦀 net user \\"x\\""}\n';
  for (const enc of ['utf16le', 'utf16be'] as const) {
    let bytes = Buffer.from('\ufeff' + text, 'utf16le');
    if (enc === 'utf16be') bytes = Buffer.from(bytes).swap16();
    // Every cut: through a code unit, between the halves of the surrogate pair, and both.
    for (let cut = 1; cut < bytes.length; cut += 1) {
      const got = await all(utf16ToUtf8(chunksOf(bytes.subarray(0, cut), bytes.subarray(cut)), enc));
      if (got.toString('utf8') !== text) assert.equal(got.toString('utf8'), text, `${enc}, cut at byte ${cut}`);
    }
  }
});

test('peek: the head, then every byte in order; a source failing while peeked fails its reader; close ends the source', async () => {
  const p = await peek(chunksOf('ab', 'cdef', 'gh'), 4);
  assert.equal(p.head.toString('latin1'), 'abcd');
  assert.equal((await all(p.chunks)).toString('latin1'), 'abcdefgh');
  const short = await peek(chunksOf('ab'), 512);
  assert.equal(short.head.toString('latin1'), 'ab');
  assert.equal((await all(short.chunks)).toString('latin1'), 'ab');

  async function* failing(): AsyncGenerator<Buffer> { yield Buffer.from('xy'); throw new Error('cut gzip'); }
  const f = await peek(failing(), 512);
  assert.equal(f.head.toString('latin1'), 'xy');
  await assert.rejects(all(f.chunks), /cut gzip/);

  let ended = false;
  async function* endless(): AsyncGenerator<Buffer> { try { for (;;) yield Buffer.alloc(1024); } finally { ended = true; } }
  const e = await peek(endless(), 512);
  await e.close();
  assert.ok(ended, 'the source was ended');
});

let dir = '';
before(() => { if (HAVE_SHARED) dir = mkdtempSync(join(tmpdir(), 'hoptrail-kind-')); });
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

test('a log renamed out of its extension is read as EVTX: named, found in a directory, archived, gzipped', { skip: SKIP_NO_SHARED, timeout: 120_000 }, async () => {
  const want = (await normalizeAll([corpus(R1), corpus(L6)])).events.map(withoutProvenance);
  assert.ok(want.length >= 14, `events: ${want.length}`);

  const d = join(dir, 'renamed');
  mkdirSync(d);
  copyFileSync(corpus(R1), join(d, 'a-WinRM'));
  copyFileSync(corpus(L6), join(d, 'b-Security.evtx.bak'));
  writeFileSync(join(d, 'c-notes.txt'), 'not evidence\n');
  const named = await normalizeAll([join(d, 'a-WinRM'), join(d, 'b-Security.evtx.bak')]);
  assert.deepEqual(named.events.map(withoutProvenance), want);
  assert.deepEqual(named.rejects, []);

  // A directory walk takes the renamed logs by their signature, and still passes other files over.
  const { files } = await listInputs([d]);
  assert.deepEqual(files, [join(d, 'a-WinRM'), join(d, 'b-Security.evtx.bak')]);

  // Members without .evtx, in a zip saved as .json, a tar gzipped as plain .gz, and a gzipped log.
  const members = [member('logs/WinRM', corpus(R1)), member('logs/Security', corpus(L6))];
  writeZip(join(dir, 'triage.json'), members);
  writeTar(join(dir, 'triage.tar'), members);
  writeFileSync(join(dir, 'triage.gz'), gzipSync(readFileSync(join(dir, 'triage.tar'))));
  writeFileSync(join(dir, 'WinRM.gz'), gzipSync(readFileSync(corpus(R1))));
  assert.equal(fileKind(join(dir, 'triage.json')), 'zip');
  assert.equal(fileKind(join(dir, 'triage.gz')), 'gz');
  for (const f of ['triage.json', 'triage.gz']) {
    const got = await normalizeAll([join(dir, f)]);
    assert.deepEqual(got.events.map(withoutProvenance), want, f);
    assert.deepEqual(got.events.map((e) => e.hoptrail.provenance.entry), [...Array(10).fill('logs/WinRM'), ...Array(4).fill('logs/Security')].slice(0, want.length), `${f}: members named`);
    assert.deepEqual(got.rejects, [], f);
  }
  // dump knows them as hunt does: the archive's logs, and the gzipped log, by their signature.
  const dumped = (f: string): string[] => {
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'hoptrail.js'), 'dump', f], { encoding: 'utf8', maxBuffer: 1 << 26 });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim().split('\n');
  };
  const direct = [...dumped(corpus(R1)), ...dumped(corpus(L6))];
  for (const f of ['triage.json', 'triage.gz', 'triage.tar']) assert.deepEqual(dumped(join(dir, f)), direct, `dump ${f}`);
  assert.deepEqual(dumped(join(dir, 'WinRM.gz')), dumped(corpus(R1)), 'dump WinRM.gz');
  assert.deepEqual(dumped(join(d, 'a-WinRM')), dumped(corpus(R1)), 'dump a renamed log');

  const gz = await normalizeAll([join(dir, 'WinRM.gz')]);
  assert.deepEqual(gz.events.map(withoutProvenance), want.slice(0, gz.events.length));
  assert.equal(gz.events.length, 10);
  assert.equal(gz.events[0].hoptrail.provenance.entry, 'WinRM');

  // The worker pool plans them as one thread reads them.
  const files2 = [join(d, 'a-WinRM'), join(dir, 'triage.json')];
  assert.deepEqual((await poolOutput(files2, { threads: 2 })).lines, (await normalizeAll(files2)).lines);
});

test('an archive inside an archive is one reject naming it, and the other members are read', { skip: SKIP_NO_SHARED, timeout: 60_000 }, async () => {
  const inner = join(dir, 'inner.zip');
  writeZip(inner, [member('L6.evtx', corpus(L6))]);
  const outer = join(dir, 'outer.zip');
  writeZip(outer, [member('host1/inner.zip', inner), member('host1/R1.evtx', corpus(R1))]);
  const got = await normalizeAll([outer]);
  assert.equal(got.events.length, 10, 'R1 is read');
  assert.equal(got.rejects.length, 1, got.rejects.join('\n'));
  const r = JSON.parse(got.rejects[0]) as { source: string; reason: string };
  assert.equal(r.source, `${outer}!host1/inner.zip`);
  assert.match(r.reason, /zip archive inside the archive.*extract it/);
});

test('JSON written as UTF-16 (LE or BE, with or without a BOM) gives the events of its UTF-8 form; a bad line keeps its line number', { skip: SKIP_NO_SHARED, timeout: 60_000 }, async () => {
  const records = [...referenceRecords(R1), ...referenceRecords(L6)];
  const lines = records.map((r) => JSON.stringify(toWinlogbeat6(r)));
  // Characters outside ASCII and outside the BMP, as event data may hold them.
  lines[3] = lines[3].replace('"log_name"', '"message":"Ünïcødé 🦀 and 漢字","log_name"');
  lines.splice(5, 0, '{"broken": ');
  const text = lines.join('\r\n') + '\r\n';
  const utf8 = join(dir, 'wlb.utf8.json');
  writeFileSync(utf8, text);
  const want = await normalizeAll([utf8]);
  assert.equal(want.events.length, records.length);
  assert.match(want.events[3].message ?? '', /Ünïcødé 🦀 and 漢字/);
  assert.equal(want.rejects.length, 1);
  const position = (o: Normalized): string => (JSON.parse(o.rejects[0]) as { position: string }).position;
  assert.match(position(want), /^line 6, offset \d+$/);

  const le = Buffer.from(text, 'utf16le');
  const variants: Record<string, Buffer> = {
    'utf16le-bom': Buffer.concat([Buffer.from([0xff, 0xfe]), le]),
    'utf16be-bom': Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(le).swap16()]),
    'utf16le': le,
  };
  for (const [name, bytes] of Object.entries(variants)) {
    const f = join(dir, `wlb.${name}.json`);
    writeFileSync(f, bytes);
    const got = await normalizeAll([f]);
    assert.deepEqual(got.unreadable, [], name);
    assert.deepEqual(got.events.map(withoutProvenance), want.events.map(withoutProvenance), name);
    assert.equal(got.rejects.length, 1, name);
    assert.equal(position(got), position(want) + ' of its UTF-8 form', name);
  }
});

test('--input-format evtx on an archive: its logs are read as logs, its JSON members detected, on one thread as on the pool', { skip: SKIP_NO_SHARED, timeout: 60_000 }, async () => {
  const wlb = JSON.stringify({ '@timestamp': '2019-05-18T21:15:35.402Z', log_name: 'Security', source_name: 'Microsoft-Windows-Security-Auditing', event_id: 4634, computer_name: 'IT001.shire.com', record_number: '7', event_data: { TargetUserName: 'x', TargetLogonId: '0x1', LogonType: '3' } });
  const zip = join(dir, 'forced.zip');
  writeZip(zip, [{ name: 'wlb.json', data: Buffer.from(wlb + '\n') }, member('Security', corpus(L6))]);
  const one = await normalizeAll([zip], { format: 'evtx' });
  assert.deepEqual([...one.rejects, ...one.warnings, ...one.unreadable], []);
  assert.equal(one.lines.length, 5, 'the JSON event and the 4 of the log');
  const pool = await poolOutput([zip], { threads: 2, format: 'evtx' });
  assert.deepEqual(pool.rejects, [], 'no reject on the pool either');
  assert.deepEqual(pool.lines, one.lines);
});

test('JSON whose bytes are not UTF-8 (Windows-1252 text) keeps every record and says so once, with where, on one thread as on the pool', { skip: SKIP_NO_SHARED, timeout: 60_000 }, async () => {
  const records = referenceRecords(R1);
  const lines = records.map((r) => JSON.stringify(toWinlogbeat6(r)));
  const bytes = lines.map((l) => Buffer.from(l + '\n', 'utf8'));
  // "Café" as Windows-1252 writes it (0xE9), in the third and fifth records.
  for (const k of [2, 4]) {
    const [head, tail] = lines[k].split('"log_name"');
    bytes[k] = Buffer.concat([Buffer.from(head + '"message":"Caf', 'utf8'), Buffer.from([0xe9]), Buffer.from('","log_name"' + tail + '\n', 'utf8')]);
  }
  const f = join(dir, 'wlb.cp1252.json');
  writeFileSync(f, Buffer.concat(bytes));
  const offset = bytes.slice(0, 2).reduce((n, b) => n + b.length, 0);
  const want = `{"source":${JSON.stringify(f)},"message":"2 record(s) hold bytes that are not UTF-8, the first at line 3, offset ${offset}: read with U+FFFD in place of each bad sequence (is the file in another encoding, such as Windows-1252?)"}`;
  const one = await normalizeAll([f]);
  assert.equal(one.events.length, records.length, 'no record lost');
  assert.equal(one.events[2].message, 'Caf\ufffd');
  assert.deepEqual(one.warnings, [want]);
  const pool = await poolOutput([f], { threads: 2 });
  assert.equal(pool.lines.length, records.length);
  assert.deepEqual(pool.warnings, [want]);
  // Valid UTF-8 (U+FFFD itself among it) says nothing.
  writeFileSync(f, lines.map((l) => l.replace('"log_name"', '"message":"Caf\u00e9 \ufffd","log_name"')).join('\n') + '\n');
  assert.deepEqual((await normalizeAll([f])).warnings, []);
});

test('a JSON input with no record in it (empty, whitespace, an empty array, an empty archive member) says so, on one thread as on the pool', { skip: SKIP_NO_SHARED }, async () => {
  const files: Record<string, string | Buffer> = { 'empty.json': '', 'blank.json': '\r\n  \n', 'none.json': '[ ]\n' };
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
  writeZip(join(dir, 'export.zip'), [{ name: 'Security.json', data: Buffer.alloc(0) }, { name: 'System.json', data: Buffer.from(JSON.stringify(toWinlogbeat6(referenceRecords(R1)[0])) + '\n') }]);
  const paths = [...Object.keys(files), 'export.zip'].map((n) => join(dir, n));
  const want = [...Object.keys(files).map((n) => join(dir, n)), `${join(dir, 'export.zip')}!Security.json`].map((source) => JSON.stringify({ source, message: 'holds no record (empty, whitespace only, or an empty array)' }));
  const one = await normalizeAll(paths);
  assert.deepEqual(one.warnings, want);
  assert.equal(one.events.length, 1, 'the other member is read');
  assert.deepEqual((await poolOutput(paths, { threads: 2 })).warnings, want);
});

test('JSON values written one after another without newlines ({..}{..}, {..} {..}, {..},{..}) are each a record with its own offset; a cut one is one reject', { skip: SKIP_NO_SHARED, timeout: 60_000 }, async () => {
  const lines = referenceRecords(R1).slice(0, 6).map((r) => JSON.stringify(toWinlogbeat6(r)));
  const text = lines[0] + lines[1] + '\n' + lines[2] + ' ' + lines[3] + ',' + lines[4] + '\n' + lines[5] + '{"cut":\n';
  const f = join(dir, 'glued.json');
  writeFileSync(f, text);
  const one = await normalizeAll([f]);
  const apart = join(dir, 'apart.json');
  writeFileSync(apart, lines.join('\n') + '\n');
  // The same events as the records one per line, but where they are (the text is ASCII: offsets are indexes).
  const content = (e: NormalizedEvent): string => { const c = JSON.parse(withoutProvenance(e)) as { log: { offset?: number } }; delete c.log.offset; return JSON.stringify(c); };
  assert.deepEqual(one.events.map(content), (await normalizeAll([apart])).events.map(content));
  assert.deepEqual(one.events.map((e) => e.hoptrail.provenance.offset), lines.map((l) => text.indexOf(l)));
  assert.deepEqual(one.rejects.map((r) => (JSON.parse(r) as { position: string; original: string })).map((r) => `${r.position} ${r.original}`), [`line 3, offset ${text.indexOf('{"cut":')} {"cut":`]);
  const pool = await poolOutput([f], { threads: 2 });
  assert.deepEqual(pool.lines, one.lines);
  assert.deepEqual(pool.rejects, one.rejects);
});
