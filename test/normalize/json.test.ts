// JSON readers: the streaming splitter (lines, arrays, bare objects, damage), archives, rejects with source
// and position, detection override, clock helpers, and the CLI's exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { splitJson, type Piece } from '../../ingest/json/split.js';
import { inflated } from '../../ingest/json/archive.js';
import { constants as zlibConstants, createGunzip, gunzipSync, gzipSync } from 'node:zlib';
import { readJsonFile, type InputItem } from '../../ingest/json/read.js';
import { eventDataValue, flattenEventXml } from '../../ingest/json/eventdata_xml.js';
import { parseZone } from '../../ingest/normalize/index.js';
import { parseClassicContext } from '../../ingest/normalize/powershell.js';
import { clean } from '../../ingest/normalize/values.js';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT, SKIP_NO_SHARED, sharedPath } from '../support/shared.js';

async function pieces(chunks: string[]): Promise<Piece[]> {
  const out: Piece[] = [];
  for await (const p of splitJson((async function* () { for (const c of chunks) yield Buffer.from(c); })())) out.push(p);
  return out;
}
async function items(file: string, format?: 'nxlog'): Promise<InputItem[]> {
  const out: InputItem[] = [];
  for await (const it of readJsonFile(file, format)) out.push(it);
  return out;
}

const WLB6 = (n: number): string => JSON.stringify({ '@timestamp': '2019-05-18T21:15:35.402Z', log_name: 'Security', source_name: 'Microsoft-Windows-Security-Auditing', event_id: 4634, computer_name: 'IT001.shire.com', record_number: String(n), event_data: { TargetUserName: 'x', TargetLogonId: '0x1', LogonType: '3' } });

test('splitter: JSON lines split across chunks keep lines and byte offsets', async () => {
  const text = `${WLB6(1)}\n${WLB6(2)}\r\n\n${WLB6(3)}`;
  const ps = await pieces([text.slice(0, 50), text.slice(50, 333), text.slice(333)]);
  assert.deepEqual(ps.map((p) => [p.line, p.offset]), [[1, 0], [2, WLB6(1).length + 1], [4, WLB6(1).length * 2 + 4]]);
  assert.deepEqual(ps.map((p) => JSON.parse(p.text).record_number), ['1', '2', '3']);
});

test('splitter: arrays stream element by element; bare and pretty objects; truncation reported', async () => {
  const arr = await pieces(['[ {"a":"x,]}"}, ', '{"b":[1,2]}\n,{"c":{"d":"\\""}} ]']);
  assert.deepEqual(arr.map((p) => [p.index, JSON.parse(p.text)]), [[0, { a: 'x,]}' }], [1, { b: [1, 2] }], [2, { c: { d: '"' } }]]);
  const bare = await pieces(['{\n  "a": 1,\n  "b": {"c": 2}\n}\n']);
  assert.deepEqual(bare.map((p) => JSON.parse(p.text)), [{ a: 1, b: { c: 2 } }]);
  const cut = await pieces(['[{"a":1},{"b":']);
  assert.equal(cut.length, 2);
  assert.equal(cut[1].bad, 'truncated: input ended inside a JSON value');
  const bom = await pieces(['\ufeff{"a":1}\n{"a":2}\n']);
  assert.equal(bom.length, 2);
});

test('a cut gzip gives everything before the cut, then its error, however slowly it is read', async () => {
  const text = Buffer.from(Array.from({ length: 60_000 }, (_, i) => `{"n":${i},"pad":"${'x'.repeat(i % 90)}"}`).join('\n'));
  const cut = gzipSync(text).subarray(0, Math.floor(gzipSync(text).length * 0.6));
  const possible = gunzipSync(cut, { finishFlush: zlibConstants.Z_SYNC_FLUSH }).length;
  assert.ok(possible > text.length / 3);
  for (const delayMs of [0, 2]) {
    let got = 0, error = '';
    const src = (async function* () { for (let i = 0; i < cut.length; i += 4096) yield cut.subarray(i, i + 4096); })();
    try {
      for await (const b of inflated(src, createGunzip({ chunkSize: 16 * 1024 }))) {
        got += b.length;
        if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      }
    } catch (e) {
      error = (e as Error).message;
    }
    assert.equal(got, possible, `every byte before the cut (consumer delay ${delayMs} ms)`);
    assert.match(error, /unexpected end of file/);
  }
});

test('splitter: a cut first record does not swallow the records after it (JSON lines and pretty objects)', async () => {
  const cases: [string, [string, number][]][] = [
    ['{"EventID": 1, "cut here\n{"n":1}\n{"n":2}\n', [['{"n":1}', 2], ['{"n":2}', 3]]],
    ['{\n  "EventID": 1,\n  "cut\n{\n  "n": 2\n}\n{\n  "n": 3\n}\n', [['{\n  "n": 2\n}', 4], ['{\n  "n": 3\n}', 7]]],
  ];
  for (const [text, good] of cases) {
    // Also fed byte by byte: the decision waits for the byte after the newline.
    for (const chunks of [[text], text.split('')]) {
      const ps = await pieces(chunks);
      assert.equal(ps.length, good.length + 1);
      assert.equal(ps[0].line, 1);
      assert.match(ps[0].bad ?? '', /^truncated: a record starts on the next line/);
      assert.deepEqual(ps.slice(1).map((p) => [p.text, p.line]), good);
      assert.ok(ps.slice(1).every((p) => p.bad === undefined));
    }
  }
});

test('splitter: a record over 4 MiB is reported and skipped; reading resumes after it (lines, objects, arrays)', async () => {
  const big = `{"a":"${'x'.repeat(17 << 20)}"}`;
  // Fed in 1 MiB chunks, as a file stream would be: the record never sits whole in the buffer.
  const feed = (text: string): string[] => { const c: string[] = []; for (let i = 0; i < text.length; i += 1 << 20) c.push(text.slice(i, i + (1 << 20))); return c; };
  for (const [name, text, good] of [
    ['lines', `{"n":1}\n${big}\n{"n":2}\n{"n":3}\n`, ['{"n":1}', '{"n":2}', '{"n":3}']],
    ['pretty objects', `{\n "n": 1\n}\n${big.replace('{', '{\n')}\n{\n "n": 2\n}\n`, ['{\n "n": 1\n}', '{\n "n": 2\n}']],
    ['array', `[{"n":1},\n${big},\n{"n":2}]`, ['{"n":1}', '{"n":2}']],
  ] as const) {
    const ps = await pieces(feed(text));
    const bad = ps.filter((p) => p.bad !== undefined);
    assert.equal(bad.length, 1, `${name}: one oversized record`);
    assert.match(bad[0].bad ?? '', /^record larger than 4194304 bytes/);
    assert.ok(bad[0].text.length <= 1024 && bad[0].text.startsWith('{'), `${name}: the record's first KiB`);
    assert.equal(bad[0].offset, text.search(/\{\n?"a"/), `${name}: offset`);
    assert.deepEqual(ps.filter((p) => p.bad === undefined).map((p) => p.text), good, `${name}: the records around it`);
  }
});

test('bad lines are rejects with source, position, reason and original text; the rest flows on', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoptrail-json-'));
  const f = join(dir, 'mixed.json');
  writeFileSync(f, [WLB6(1), 'this is not json {', '{"hello": "world"}', '[1,2]', WLB6(2)].join('\n') + '\n');
  const got = await items(f);
  assert.deepEqual(got.map((i) => i.kind), ['record', 'reject', 'reject', 'reject', 'record']);
  const r = got[1].kind === 'reject' ? got[1].reject : undefined;
  assert.ok(r);
  assert.equal(r.source, f);
  assert.match(r.position, /^line 2, offset \d+$/);
  assert.match(r.reason, /^not JSON/);
  assert.equal(r.original, 'this is not json {');
  assert.equal(got[2].kind === 'reject' && got[2].reject.reason, 'unknown shape: not Winlogbeat 6/7/8, NXLog, Export-WinEvents or EVTX-dump JSON');
  assert.equal(got[3].kind === 'reject' && got[3].reject.reason, 'not a JSON object (array)');
  const rec = got[4].kind === 'record' ? got[4] : undefined;
  assert.deepEqual(rec?.prov, { format: 'winlogbeat6', file: f, offset: readFileSync(f, 'utf8').lastIndexOf('{"@timestamp"'), line: 5 });
  // --input-format forces the adapter: a Winlogbeat 6 line read as NXLog is a reject with the adapter's reason.
  const forced = await items(f, 'nxlog');
  assert.equal(forced[0].kind === 'reject' && forced[0].reject.reason, 'NXLog: no EventID');
  // .gz
  const gz = join(dir, 'lines.json.gz');
  writeFileSync(gz, gzipSync(WLB6(7) + '\n' + WLB6(8) + '\n'));
  assert.deepEqual((await items(gz)).map((i) => i.kind === 'record' && i.record.record_id), [7, 8]);
});

test('archives: zip (central directory) with a bare object, tar.gz with 5 667 lines', { skip: SKIP_NO_SHARED }, async () => {
  const z = await items(sharedPath('datasets', 'sd2_190518_psremoting', 'DC01_Windows_MicrosoftWindowsWinRMOperational.zip'));
  assert.equal(z.length, 1);
  assert.ok(z[0].kind === 'record');
  assert.equal(z[0].prov.entry, 'DC01_Windows_MicrosoftWindowsWinRMOperational_2022-09-26T19262092.json');
  assert.equal(z[0].record.export_local_time, '2022-09-26T19:26:20');
  assert.deepEqual(z[0].record.event_data, { resourceUri: 'http://schemas.microsoft.com/powershell/Microsoft.PowerShell' });
  const t = await items(sharedPath('datasets', 'empire_invoke_psremoting_2019', 'empire_invoke_psremoting.tar.gz'));
  assert.equal(t.filter((i) => i.kind === 'record').length, 5667);
  assert.equal(t.length, 5667);
});

test('EventData XML: named, unnamed (param N), entities; UserData leaves', () => {
  assert.deepEqual(flattenEventXml('<EventData xmlns="x"><Data Name="a">1 &lt; 2 &amp; &#x41;</Data><Data Name="b" /></EventData>').data, { a: '1 < 2 & A', b: '' });
  assert.deepEqual(flattenEventXml('<EventData><Data>x</Data><Data>y</Data></EventData>').data, { param1: 'x', param2: 'y' });
  assert.deepEqual(flattenEventXml('<UserData><LogFileCleared xmlns="y"><SubjectUserName>bob</SubjectUserName></LogFileCleared></UserData>'), { data: { SubjectUserName: 'bob' }, kind: 'UserData', root: 'LogFileCleared' });
});

test('EventData XML: one value (eventDataValue) is what the flattening gives that key', () => {
  const xmls = [
    '<EventData><Data Name="RuleName">-</Data><Data Name="UtcTime">2022-09-26 23:26:06.428</Data></EventData>',
    '  <EventData xmlns="x">\n<Data Name = "UtcTime" >a &amp; b</Data><Data Name="UtcTime">second</Data></EventData> ',
    '<EventData><Data Name="UtcTime"/><Data Name="UtcTime">late</Data></EventData>',
    '<EventData><Data Name="UtcTime">unclosed<Data Name="UtcTime">x</Data></EventData>',
    '<EventData><Data>p1</Data><Data Name="">p2</Data><Data Name="UtcTimeX">no</Data></EventData>',
    '<EventData><DataX Name="UtcTime">no</DataX><Data Name="UtcTime" x="1">no</Data><Data Name="UtcTime">yes</Data></EventData>',
    '<EventDataX><Data Name="UtcTime">no</Data></EventDataX>',
    '<UserData><Ev xmlns="y"><UtcTime>from user data</UtcTime><UtcTime>2</UtcTime></Ev></UserData>',
    '<UserData><Ev><A UtcTime="attr"/></Ev></UserData>',
    'not xml', '', '   ',
  ];
  for (const x of xmls) assert.equal(eventDataValue(x, 'UtcTime'), flattenEventXml(x).data.UtcTime, x);
  assert.equal(eventDataValue(xmls[1], 'UtcTime'), 'a & b');
  assert.equal(eventDataValue(xmls[7], 'UtcTime'), 'from user data');
});

test('values: placeholders absent, insertion strings resolved; classic context; zones', () => {
  assert.equal(clean('-'), undefined);
  assert.equal(clean('  '), undefined);
  assert.equal(clean('%%1793'), undefined);
  assert.equal(clean('%%9999'), undefined);
  assert.equal(clean('%%14593'), 'Outbound');
  assert.equal(clean('%%4416\n\t\t\t\t%%4417'), 'ReadData (or ListDirectory), WriteData (or AddFile)');
  assert.equal(clean('a-b'), 'a-b');
  assert.deepEqual(parseClassicContext('\tHostName=ServerRemoteHost\r\n\tCommandLine=Get-X\r\n  -Y 1\r\n\r\nDetails: \r\nCommandInvocation(Get-X): "Get-X"'), { HostName: 'ServerRemoteHost', CommandLine: 'Get-X\n  -Y 1' });
  assert.equal(parseZone('-04:00')?.(0), -240);
  assert.equal(parseZone('+0530')?.(0), 330);
  assert.equal(parseZone('UTC')?.(0), 0);
  assert.equal(parseZone('America/New_York')?.(Date.UTC(2020, 7, 6, 11, 56)), -240);
  assert.equal(parseZone('America/New_York')?.(Date.UTC(2020, 0, 6, 11, 56)), -300);
  assert.equal(parseZone('Mars/Olympus'), undefined);
});

test('CLI: events on stdout, rejects to FILE, exit codes 0 / 1 / 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoptrail-cli-'));
  const f = join(dir, 'in.jsonl');
  writeFileSync(f, `${WLB6(1)}\nnot json\n`);
  const rej = join(dir, 'rejects.jsonl');
  const cli = (...args: string[]) => spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'hoptrail.js'), 'normalize', ...args], { encoding: 'utf8' });
  const ok = cli(f, '--rejects', rej);
  const codes = [ok.status, cli(join(dir, 'missing.json')).status, cli().status, cli(f, '--tz', 'Nowhere/Land').status];
  const writes = [ok.stdout];
  const errs = [ok.stderr];
  assert.deepEqual(codes, [0, 1, 2, 2]);
  const events = writes.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { winlog: { record_id: number } });
  assert.deepEqual(events.map((e) => e.winlog.record_id), [1]);
  const rejects = readFileSync(rej, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { position: string; original: string });
  assert.equal(rejects.length, 1);
  assert.equal(rejects[0].original, 'not json');
  assert.match(errs.join(''), /1 event\(s\), 1 reject\(s\)/);
  // A path that cannot be read does not stop the others.
  const partly = cli(join(dir, 'missing-dir'), f);
  assert.equal(partly.status, 1);
  assert.equal(partly.stdout.split('\n').filter(Boolean).length, 1);
  assert.match(partly.stderr, /unreadable: .*missing-dir: cannot open: ENOENT/);
  // On worker threads: the same lines, rejects, counts and unreadable paths.
  const rej2 = join(dir, 'rejects2.jsonl');
  const threaded = cli(join(dir, 'missing-dir'), f, '--threads', '2', '--rejects', rej2);
  assert.equal(threaded.status, 1);
  const noIngested = (t: string) => t.replace(/"ingested":"[^"]*"/g, '');
  assert.equal(noIngested(threaded.stdout), noIngested(partly.stdout));
  assert.equal(readFileSync(rej2, 'utf8'), readFileSync(rej, 'utf8'));
  assert.match(threaded.stderr, /1 event\(s\), 1 reject\(s\)/);
  assert.match(threaded.stderr, /reject: 1 x /);
  assert.match(threaded.stderr, /unreadable: .*missing-dir: cannot open: ENOENT/);
  assert.equal(cli(f, '--threads', '0').status, 2);
});
