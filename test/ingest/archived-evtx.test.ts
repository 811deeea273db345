// EVTX members of archives (.zip deflated and stored, .tar, .tar.gz) against the same files extracted: the
// same events, rejects and warnings (provenance apart: the archive and the member instead of the file),
// on one thread and on the worker pool; hunt finds the same sessions; damage and cut archives are
// reported by archive!member, and the rest is still read.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { shares } from '../../ingest/parallel/plan.js';
import { expandPaths } from '../../ingest/sources.js';
import { member, writeTar, writeZip, type Member } from '../support/archives.js';
import { normalizeAll, poolOutput, withoutProvenance, type Normalized } from '../support/normalized.js';
import { HAVE_SHARED, REPO_ROOT, sharedPath, SKIP_NO_SHARED } from '../support/shared.js';

const corpus = (...p: string[]): string => sharedPath('corpus', ...p);
const R = ['R1_RemotePowerShell_MS_Windows-Remote_Management_EventID_169.evtx', 'R2_LM_winrm_target_wrmlogs_91_wsmanShellStarted_poorLog.evtx', 'R3_LM_PowershellRemoting_sysmon_1_wsmprovhost.evtx'];
const WLB = (n: number): string => JSON.stringify({ '@timestamp': '2019-05-18T21:15:35.402Z', log_name: 'Security', source_name: 'Microsoft-Windows-Security-Auditing', event_id: 4634, computer_name: 'IT001.shire.com', record_number: String(n), event_data: { TargetUserName: 'x', TargetLogonId: '0x1', LogonType: '3' } });

let dir = '';
let members: Member[] = [];
/** Archive kind -> path; the same members extracted under `extracted`. */
const archives: Record<string, string> = {};
let extracted = '';

before(() => {
  if (!HAVE_SHARED) return;
  dir = mkdtempSync(join(tmpdir(), 'hoptrail-archived-'));
  // Names in the order a directory walk takes them (sorted), so that the extracted files come in the
  // archive's order; one extension in capitals; a JSON member among them (the learning pass skips EVTX).
  members = [
    member('Logs/a-R1.evtx', corpus(R[0])),
    member('Logs/b-R2.EVTX', corpus(R[1])),
    member('Logs/c-R3.evtx', corpus(R[2])),
    member('Logs/d-X1.evtx', corpus('X1_ID1149-RDP_success_logins_to_multiple_hosts.evtx')),
    member('Logs/e-damaged.evtx', corpus('robustness', 'sample_with_a_bad_chunk_magic.evtx')),
    { name: 'Logs/f-forwarded.jsonl', data: Buffer.from([1, 2, 3].map(WLB).join('\n') + '\n') },
    member('Logs/g-dc-security.evtx', corpus('large', 'StolenSzechuan_DC_Security.evtx')),
  ];
  extracted = join(dir, 'extracted');
  for (const m of members) {
    mkdirSync(dirname(join(extracted, m.name)), { recursive: true });
    writeFileSync(join(extracted, m.name), m.data);
  }
  archives.zip = join(dir, 'logs.zip');
  writeZip(archives.zip, members);
  archives['stored zip'] = join(dir, 'stored.zip');
  writeZip(archives['stored zip'], members, 'store');
  archives.tar = join(dir, 'logs.tar');
  writeTar(archives.tar, members);
  archives['tar.gz'] = join(dir, 'logs.tar.gz');
  writeTar(archives['tar.gz'], members);
});

after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

test('an archive of EVTX (and JSON) normalizes to the events, rejects and warnings of the extracted files', { skip: SKIP_NO_SHARED, timeout: 240_000 }, async () => {
  const want = await normalizeAll(await expandPaths([extracted]));
  assert.ok(want.events.length > 8_900, `events: ${want.events.length}`);
  assert.ok(want.rejects.length > 0 && want.warnings.length > 0, 'the damaged log gives rejects and warnings');
  // Extracted path <-> archive!member, in rejects and warnings.
  const named = (archive: string, lines: string[]): string[] => lines.map((l) => l.replaceAll(`${archive}!`, `${extracted}/`));
  for (const [kind, archive] of Object.entries(archives)) {
    const got = await normalizeAll([archive]);
    assert.deepEqual(got.unreadable, [], kind);
    assert.equal(got.events.length, want.events.length, `${kind}: event count`);
    for (let i = 0; i < want.events.length; i++) {
      const g = got.events[i], w = want.events[i];
      if (withoutProvenance(g) !== withoutProvenance(w)) assert.equal(withoutProvenance(g), withoutProvenance(w), `${kind}: event ${i + 1}`);
      const { file, entry, ...rest } = g.hoptrail.provenance;
      const { file: wfile, ...wrest } = w.hoptrail.provenance;
      assert.equal(file, archive);
      assert.equal(join(extracted, entry!), wfile, `${kind}: event ${i + 1} names its member`);
      assert.deepEqual(rest, wrest, `${kind}: event ${i + 1}: chunk and offset as in the extracted file`);
    }
    assert.deepEqual(named(archive, got.rejects), want.rejects, `${kind}: rejects`);
    assert.deepEqual(named(archive, got.warnings), want.warnings, `${kind}: warnings`);
  }
});

test('the worker pool gives one thread\'s output for archived EVTX, whatever the number of workers', { skip: SKIP_NO_SHARED, timeout: 240_000 }, async () => {
  const files = [archives.zip, archives['tar.gz']];
  const want = await normalizeAll(files);
  for (const threads of [1, 3]) {
    const stats = { redone: 0, kept: 0, parts: 0 };
    const { lines, rejects, warnings } = await poolOutput(files, { threads, stats });
    // The DC's log (6 MB) is cut into chunks that other workers parse, in parts (none with one worker).
    assert.ok(threads === 1 ? stats.parts === 0 : stats.parts >= 10, `parts: ${stats.parts}`);
    assert.equal(lines.length, want.lines.length, `${threads} thread(s): event count`);
    for (let i = 0; i < lines.length; i++) if (lines[i] !== want.lines[i]) assert.equal(lines[i], want.lines[i], `${threads} thread(s): line ${i + 1}`);
    assert.deepEqual(rejects, want.rejects, `${threads} thread(s): rejects`);
    assert.deepEqual(warnings, want.warnings, `${threads} thread(s): warnings`);
  }
});

/** Runs the hunt command in a process of its own (this one's stdout is the test runner's); its exit code and summary. */
function huntQuiet(args: string[]): { code: number; said: string } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'hoptrail.js'), 'hunt', ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, said: r.stdout + r.stderr };
}

test('hunt over an archive of the R logs finds the sessions it finds over the files; threads change nothing', { skip: SKIP_NO_SHARED, timeout: 240_000 }, async () => {
  const rdir = join(dir, 'hunt');
  mkdirSync(join(rdir, 'files'), { recursive: true });
  const rs = R.map((f) => member(f, corpus(f)));
  for (const m of rs) writeFileSync(join(rdir, 'files', m.name), m.data);
  const zip = join(rdir, 'r.zip');
  writeZip(zip, rs);
  const files = huntQuiet([join(rdir, 'files'), '--out', join(rdir, 'out-files')]);
  const zipped = huntQuiet([zip, '--out', join(rdir, 'out-zip')]);
  const one = huntQuiet([zip, '--out', join(rdir, 'out-zip-1'), '--threads', '1']);
  assert.equal(zipped.code, 0, zipped.said);
  assert.match(files.said, /3 session\(s\)/);
  // The summary apart from its input count (3 files, 1 archive) and its time.
  const summary = (s: string): string => s.replace(/ in [\d.]+ s/, '').replace(/\d+ input\(s\), /, '').replaceAll(join(rdir, 'files') + '/', '').replaceAll(`${zip}!`, '').replace(/written to .*/, '');
  assert.equal(summary(zipped.said), summary(files.said));
  // Sessions: the same, the evidence naming the archive and the member instead of the file.
  const sessions = (out: string): unknown[] => readFileSync(join(rdir, out, 'sessions.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown);
  const fromFiles = sessions('out-files') as { evidence: { file?: string; entry?: string }[] }[];
  const fromZip = sessions('out-zip') as { evidence: { file?: string; entry?: string }[] }[];
  assert.equal(fromZip.length, 3);
  for (const s of fromZip) for (const e of s.evidence) {
    assert.equal(e.file, zip);
    e.file = join(rdir, 'files', e.entry!);
    delete e.entry;
  }
  assert.deepEqual(fromZip, fromFiles);
  // One worker or the default: byte for byte the same outputs, event.ingested (and the report's time) apart.
  const noIngested = (t: string): string => t.replace(/"ingested":"[^"]*"/g, '').replace(/Generated [0-9T:.Z-]+ by hoptrail/, '');
  for (const f of readdirSync(join(rdir, 'out-zip'))) {
    const a = readFileSync(join(rdir, 'out-zip', f), 'utf8'), b = readFileSync(join(rdir, 'out-zip-1', f), 'utf8');
    assert.equal(noIngested(b), noIngested(a), f);
  }
  assert.equal(summary(one.said), summary(zipped.said));
});

test('archived damage: a member that is not EVTX, a cut .tar.gz, a cut .zip and a bogus one are named; the rest is read', { skip: SKIP_NO_SHARED, timeout: 120_000 }, async () => {
  const ddir = join(dir, 'damage');
  mkdirSync(ddir);
  const r1 = member('a-R1.evtx', corpus(R[0]));
  const big = member('c-dc-security.evtx', corpus('large', 'StolenSzechuan_DC_Security.evtx'));
  const notEvtx = { name: 'b-notes.evtx', data: Buffer.from('not an event log, only text long enough '.repeat(3000)) };
  // A member that is not EVTX is a reject naming it; the members after it are read.
  const mixed = join(ddir, 'mixed.zip');
  writeZip(mixed, [r1, notEvtx, member('d-R2.evtx', corpus(R[1]))]);
  const m = await normalizeAll([mixed]);
  assert.deepEqual(m.unreadable, []);
  assert.ok(m.rejects.some((l) => { const r = JSON.parse(l) as { source: string; reason: string }; return r.source === `${mixed}!b-notes.evtx` && /not an EVTX file/.test(r.reason); }), m.rejects.join('\n'));
  const entries = new Set(m.events.map((e) => e.hoptrail.provenance.entry));
  assert.deepEqual([...entries], ['a-R1.evtx', 'd-R2.evtx']);

  // A .tar.gz cut in the middle of the large log: the first member whole, the large one up to the cut
  // (as the cut file would give), then a reject that names it and says the archive ends there.
  const whole = join(ddir, 'whole.tar.gz');
  writeTar(whole, [r1, big]);
  const bytes = readFileSync(whole);
  const cut = join(ddir, 'cut.tar.gz');
  writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const c = await normalizeAll([cut]);
  assert.deepEqual(c.unreadable, []);
  const bigEvents = c.events.filter((e) => e.hoptrail.provenance.entry === big.name).length;
  assert.equal(c.events.filter((e) => e.hoptrail.provenance.entry === r1.name).length, (await normalizeAll([corpus(R[0])])).events.length);
  assert.ok(bigEvents > 1000 && bigEvents < 8000, `events before the cut: ${bigEvents}`);
  const last = JSON.parse(c.rejects.at(-1)!) as { source: string; position: string; reason: string };
  assert.equal(last.source, `${cut}!${big.name}`);
  assert.match(last.position, /^chunk \d+, offset \d+$/);
  assert.match(last.reason, /^read failed: archive cannot be read past byte \d+ of this member \(6361088 bytes\): unexpected end of file/);
  // The cut file itself gives those records too: what an extractor would have written.
  const partial = join(ddir, 'partial.evtx');
  const at = Number(/past byte (\d+)/.exec(last.reason)![1]);
  writeFileSync(partial, big.data.subarray(0, at));
  const p = await normalizeAll([partial]);
  assert.deepEqual(c.events.filter((e) => e.hoptrail.provenance.entry === big.name).map(withoutProvenance), p.events.map(withoutProvenance));
  // On the worker pool too, and nothing hangs.
  const onPool = async (file: string, want: Normalized): Promise<void> => {
    const got = await poolOutput([file], { threads: 2 });
    assert.equal(got.lines.length, want.events.length);
    assert.deepEqual(got.rejects, want.rejects);
  };
  await onPool(cut, c);

  // A damaged tar header (its checksum): the members before it are read, then a reject names the archive.
  const tar = join(ddir, 'damaged.tar');
  writeTar(tar, [r1, member('d-R2.evtx', corpus(R[1])), r1]);
  const t = readFileSync(tar);
  const second = 512 + Math.ceil(r1.data.length / 512) * 512;
  t[second + 130] ^= 0x01; // a digit of its size
  writeFileSync(tar, t);
  const d = await normalizeAll([tar]);
  assert.deepEqual(d.unreadable, []);
  assert.equal(d.events.length, 10);
  assert.deepEqual(JSON.parse(d.rejects.at(-1)!), { source: tar, position: 'entry', reason: `archive cannot be read past offset ${second}: header checksum mismatch (damaged, or not a tar archive)`, original: '' });

  // A cut .zip has lost its central directory: its members are found from their local headers, the
  // cut one gives its records up to the cut, and rejects name it and the archive.
  const zip = join(ddir, 'cut.zip');
  writeZip(zip, [r1, big]);
  writeFileSync(zip, readFileSync(zip).subarray(0, Math.floor(readFileSync(zip).length / 2)));
  const z = await normalizeAll([zip]);
  assert.deepEqual(z.unreadable, []);
  assert.equal(z.events.filter((e) => e.hoptrail.provenance.entry === r1.name).length, 10);
  const zipBig = z.events.filter((e) => e.hoptrail.provenance.entry === big.name).length;
  assert.ok(zipBig > 1000 && zipBig < 8000, `events before the cut: ${zipBig}`);
  const [cutMember, archive] = z.rejects.slice(-2).map((l) => JSON.parse(l) as { source: string; reason: string });
  assert.equal(cutMember.source, `${zip}!${big.name}`);
  assert.match(cutMember.reason, /^read failed: archive ends inside this member \(\d+ of its \d+ stored bytes\)$/);
  assert.deepEqual(archive, { source: zip, position: 'entry', reason: 'zip central directory not found (cut short?): 2 entries read from their local headers', original: '' });
  await onPool(zip, z);
  // Not a zip at all: unreadable, and said why; the other inputs are read.
  const bogus = join(ddir, 'bogus.zip');
  writeFileSync(bogus, 'not a zip');
  const b = await normalizeAll([bogus, corpus(R[0])]);
  assert.deepEqual(b.unreadable, [`${bogus}: not a zip file (no end of central directory)`]);
  assert.equal(b.events.length, 10, 'the other input is read');
});

test('the pool shares a zip by its EVTX members: one job each, and one per run of other members', () => {
  assert.deepEqual(shares(['a.json', 'Logs/', 'b.EVTX', 'c.evtx', 'd.json', 'e.jsonl']), [{ from: 0, to: 2 }, { from: 2, to: 3 }, { from: 3, to: 4 }, { from: 4, to: 6 }]);
  assert.deepEqual(shares(['x.evtx']), [{ from: 0, to: 1 }]);
  assert.equal(shares(['a.json', 'notes.evtx.txt']), undefined, 'no EVTX member: the archive is one job');
});

test('a gzipped log (x.evtx.gz), alone or as a member of a zip, is read as the log it holds', { skip: SKIP_NO_SHARED, timeout: 120_000 }, async () => {
  const gdir = join(dir, 'gzipped');
  mkdirSync(gdir);
  const log = corpus('X1_ID1149-RDP_success_logins_to_multiple_hosts.evtx');
  const want = await normalizeAll([log]);
  assert.ok(want.events.length > 20);
  const gz = join(gdir, 'X1.evtx.gz');
  writeFileSync(gz, gzipSync(readFileSync(log)));
  const zip = join(gdir, 'logs.zip');
  writeZip(zip, [{ name: 'Logs/X1.EVTX.gz', data: gzipSync(readFileSync(log)) }]);
  for (const [file, entry] of [[gz, 'X1.evtx'], [zip, 'Logs/X1.EVTX.gz']]) {
    const got = await normalizeAll([file]);
    assert.deepEqual(got.unreadable, [], file);
    assert.deepEqual(got.rejects, want.rejects, file);
    assert.deepEqual(got.events.map(withoutProvenance), want.events.map(withoutProvenance), file);
    assert.ok(got.events.every((e) => e.hoptrail.provenance.file === file && e.hoptrail.provenance.entry === entry), file);
  }
  // dump reads a gzipped log named on its command line.
  const bin = join(REPO_ROOT, 'bin', 'hoptrail.js');
  const plain = spawnSync(process.execPath, [bin, 'dump', log], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const unzipped = spawnSync(process.execPath, [bin, 'dump', gz], { encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(unzipped.status, 0, unzipped.stderr);
  assert.equal(unzipped.stdout, plain.stdout);
});
