// The normalizing pool (ingest/parallel) against the one-thread pipeline (ingest/pipeline.ts) on real
// inputs: the same JSON lines in the same order, the same rejects, the same unreadable files, whatever the
// number of workers; and the events it ships to the detectors are all those they would act on.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { detectorsUse } from '../../detectors/uses.js';
import { normalizeInParallel, shippedEvents, warmUp, type ParallelOptions } from '../../ingest/parallel/pool.js';
import { normalizeFiles } from '../../ingest/pipeline.js';
import { expandPaths } from '../../ingest/sources.js';
import { sharedPath, SKIP_NO_SHARED } from '../support/shared.js';

const INGESTED = '2026-01-01T00:00:00.000Z';

interface Out { lines: string[]; rejects: string[]; unreadable: string[]; shipped: string[]; done: string[] }

async function sequential(files: string[]): Promise<Out> {
  const o: Out = { lines: [], rejects: [], unreadable: [], shipped: [], done: [] };
  for await (const it of normalizeFiles(files, { ingested: INGESTED })) {
    if (it.kind === 'event') {
      o.lines.push(JSON.stringify(it.event));
      if (detectorsUse(it.event)) o.shipped.push(JSON.stringify({ ...it.event, message: undefined }));
    } else if (it.kind === 'reject') o.rejects.push(JSON.stringify(it.reject));
    else if (it.kind === 'unreadable') o.unreadable.push(`${it.file}: ${it.error}`);
  }
  return o;
}

async function parallel(files: string[], threads: number, more: ParallelOptions = {}): Promise<Out> {
  const o: Out = { lines: [], rejects: [], unreadable: [], shipped: [], done: [] };
  for await (const it of normalizeInParallel(files, { ingested: INGESTED, threads, ...more })) {
    if (it.kind === 'batch') {
      // Small batches too: lines in a plain array would be copied into the message and out of it.
      assert.ok(it.batch.ndjson.buffer instanceof SharedArrayBuffer, 'a batch\'s lines are in shared memory');
      const text = Buffer.from(it.batch.ndjson).toString('utf8');
      const lines = text === '' ? [] : text.slice(0, -1).split('\n');
      assert.equal(lines.length, it.batch.events);
      o.lines.push(...lines);
      if (it.batch.rejects !== '') o.rejects.push(...it.batch.rejects.slice(0, -1).split('\n'));
      for (const x of shippedEvents(it.batch)) o.shipped.push(JSON.stringify(x.event));
    } else if (it.kind === 'unreadable') o.unreadable.push(`${it.file}: ${it.error}`);
    else o.done.push(it.file);
  }
  return o;
}

test('parallel normalizing equals the one-thread pipeline on the corpus, damaged files and datasets', { skip: SKIP_NO_SHARED, timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoptrail-par-'));
  // Unreadable inputs keep their place: one not EVTX at all, one missing.
  writeFileSync(join(dir, 'a-not.evtx'), 'this is not an event log, only text long enough '.repeat(2000));
  copyFileSync(sharedPath('corpus', 'R1_RemotePowerShell_MS_Windows-Remote_Management_EventID_169.evtx'), join(dir, 'b.evtx'));
  // First, a log whose host name has no domain: it is read before the first pass ends, so it asks for the
  // FQDN that pass may teach, and must be read again once the pass is over.
  copyFileSync(sharedPath('corpus', 'L3_smb-password-guessing-security.evtx'), join(dir, '0-short-name.evtx'));
  const files = [
    join(dir, '0-short-name.evtx'),
    ...(await expandPaths([sharedPath('corpus'), sharedPath('datasets')])).filter((f) => !f.includes('/large/')),
    join(dir, 'a-not.evtx'), join(dir, 'b.evtx'), join(dir, 'missing.json'),
  ];
  const want = await sequential(files);
  assert.deepEqual(want.unreadable.map((u) => u.replace(/:.*/, '')).sort(), [join(dir, 'a-not.evtx'), join(dir, 'missing.json')]);
  assert.ok(want.lines.length > 30_000 && want.rejects.length > 0 && want.shipped.length > 1000, 'the inputs hold events, rejects and detector events');
  for (const threads of [1, 3]) {
    const stats = { redone: 0, kept: 0, parts: 0 };
    const got = await parallel(files, threads, { stats });
    assert.ok(stats.redone > 0, 'the first EVTX range was redone with the final knowledge');
    // Local-time collector files are read to the end by the first pass: their items are reused.
    if (threads === 1) assert.ok(stats.kept >= 4, `files normalized from the first pass's items: ${stats.kept}`);
    // The Empire recording is one 50 MB export: with other workers to help, it is parsed in parts.
    assert.ok(threads === 1 ? stats.parts === 0 : stats.parts > 20, `parts: ${stats.parts}`);
    assert.equal(got.lines.length, want.lines.length, `${threads} thread(s): event count`);
    for (let i = 0; i < want.lines.length; i++) if (got.lines[i] !== want.lines[i]) assert.equal(got.lines[i], want.lines[i], `${threads} thread(s): line ${i + 1}`);
    assert.deepEqual(got.rejects, want.rejects, `${threads} thread(s): rejects`);
    // In input order here; the one-thread pipeline reports first-pass failures first.
    assert.deepEqual([...got.unreadable].sort(), [...want.unreadable].sort(), `${threads} thread(s): unreadable files`);
    assert.deepEqual(got.unreadable.map((u) => u.replace(/:.*/, '')), [join(dir, 'a-not.evtx'), join(dir, 'missing.json')]);
    assert.deepEqual(got.shipped, want.shipped, `${threads} thread(s): events shipped to the detectors`);
    // Every file reports its end once, in input order, the unreadable ones too.
    assert.deepEqual(got.done, files);
  }
});

test('an outsized JSON record is rejected with its reason; the records around it are all kept', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoptrail-big-'));
  const event = (i: number, script: string): string => JSON.stringify({
    '@timestamp': `2024-05-01T10:00:${String(i % 60).padStart(2, '0')}.000Z`,
    winlog: { channel: 'Microsoft-Windows-PowerShell/Operational', provider_name: 'Microsoft-Windows-PowerShell', computer_name: 'ws1.corp.local', event_id: 4104, record_id: i, event_data: { MessageNumber: '1', MessageTotal: '1', ScriptBlockText: script, ScriptBlockId: `id-${i}` } },
  });
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) lines.push(event(i, `Write-Output ${i}`));
  // One record of 40 MB: no event is that large, and a worker's bounded heap must not have to hold it.
  lines.splice(2500, 0, event(99_999, 'A'.repeat(40 << 20)));
  const file = join(dir, 'big.ndjson');
  writeFileSync(file, lines.join('\n') + '\n');
  const want = await sequential([file]);
  const got = await parallel([file], 2);
  assert.equal(got.lines.length, 3000);
  assert.ok(got.lines.length === want.lines.length && got.lines.every((l, i) => l === want.lines[i]), 'the same lines, once each, in order');
  assert.equal(got.rejects.length, 1);
  assert.deepEqual(got.rejects, want.rejects);
  const r = JSON.parse(got.rejects[0]) as { reason: string; position: string; original: string };
  assert.match(r.reason, /^record larger than 4194304 bytes/);
  assert.match(r.position, /line 2501/);
  assert.ok(r.original.length <= 1024);
  assert.deepEqual(got.unreadable, []);
});

test('a large JSON export is parsed in parts by every worker: same lines, rejects and read errors, in order', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoptrail-parts-'));
  const lines: string[] = [];
  for (let i = 0; i < 30_000; i++) {
    if (i % 997 === 0) { lines.push(`{"broken": ${i}`); continue; }
    lines.push(JSON.stringify({
      '@timestamp': new Date(Date.UTC(2024, 4, 1, 10) + i * 1000).toISOString(),
      winlog: { channel: 'Security', provider_name: 'Microsoft-Windows-Security-Auditing', computer_name: `ws${i % 7}.corp.local`, event_id: 4624, record_id: i, event_data: { LogonType: '3', TargetUserName: `user${i % 13}`, IpAddress: `10.0.${i % 250}.${i % 200}` } },
    }));
  }
  const plain = join(dir, 'export.ndjson');
  writeFileSync(plain, lines.join('\n') + '\n');
  // The same, gzipped and cut short: the read error comes after everything before the cut.
  const cut = join(dir, 'export-cut.ndjson.gz');
  const gz = gzipSync(Buffer.from(lines.join('\n') + '\n'));
  writeFileSync(cut, gz.subarray(0, Math.floor(gz.length * 0.7)));
  const files = [plain, cut];
  const want = await sequential(files);
  const stats = { redone: 0, kept: 0, parts: 0 };
  // Workers started ahead (as hunt does, before it loads the rest of itself) serve the pool.
  warmUp(2);
  const got = await parallel(files, 2, { stats });
  assert.ok(stats.parts >= 8, `handed out in parts: ${stats.parts}`);
  assert.deepEqual(got.shipped, want.shipped, 'events shipped to the detectors');
  assert.ok(want.lines.length > 40_000 && want.rejects.length > 40, 'events and rejects from both files');
  assert.ok(got.lines.length === want.lines.length && got.lines.every((l, i) => l === want.lines[i]), 'the same lines, in order');
  assert.deepEqual(got.rejects, want.rejects);
  assert.deepEqual(got.unreadable, want.unreadable);
  assert.deepEqual(got.done, files);
});
