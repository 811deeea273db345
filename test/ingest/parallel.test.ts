// The normalizing pool (ingest/parallel) against the one-thread pipeline (ingest/pipeline.ts) on real
// inputs: the same JSON lines in the same order, the same rejects, the same unreadable files, whatever the
// number of workers; and the events it ships to the detectors are all those they would act on.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isRelevant } from '../../detectors/engine.js';
import { FindingsCollector } from '../../detectors/findings/collector.js';
import { normalizeInParallel } from '../../ingest/parallel/pool.js';
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
      if (isRelevant(it.event) || FindingsCollector.wants(it.event)) o.shipped.push(JSON.stringify({ ...it.event, message: undefined }));
    } else if (it.kind === 'reject') o.rejects.push(JSON.stringify(it.reject));
    else if (it.kind === 'unreadable') o.unreadable.push(`${it.file}: ${it.error}`);
  }
  return o;
}

async function parallel(files: string[], threads: number): Promise<Out> {
  const o: Out = { lines: [], rejects: [], unreadable: [], shipped: [], done: [] };
  for await (const it of normalizeInParallel(files, { ingested: INGESTED, threads })) {
    if (it.kind === 'batch') {
      const text = Buffer.from(it.batch.ndjson).toString('utf8');
      const lines = text === '' ? [] : text.slice(0, -1).split('\n');
      assert.equal(lines.length, it.batch.events);
      o.lines.push(...lines);
      o.rejects.push(...it.batch.rejects.map((r) => JSON.stringify(r)));
      o.shipped.push(...it.batch.shipped.map((e) => JSON.stringify(e)));
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
  const files = [
    ...(await expandPaths([sharedPath('corpus'), sharedPath('datasets')])).filter((f) => !f.includes('/large/')),
    join(dir, 'a-not.evtx'), join(dir, 'b.evtx'), join(dir, 'missing.json'),
  ];
  const want = await sequential(files);
  assert.deepEqual(want.unreadable.map((u) => u.replace(/:.*/, '')).sort(), [join(dir, 'a-not.evtx'), join(dir, 'missing.json')]);
  assert.ok(want.lines.length > 30_000 && want.rejects.length > 0 && want.shipped.length > 1000, 'the inputs hold events, rejects and detector events');
  for (const threads of [1, 3]) {
    const got = await parallel(files, threads);
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
