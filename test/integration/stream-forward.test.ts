// What stage 1 forwards to the internal topic (needsCorrelation) is everything the detectors use: on the
// datasets, the live hunt fed only the forwarded events gives the very sessions and findings it gives when
// fed every event. Guards the filter against drift when a findings observer starts reading other events.
// No broker needed: the detectors only (the broker tests check the topology itself).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { expandPaths } from '../../ingest/sources.js';
import { normalizeFiles } from '../../ingest/pipeline.js';
import { needsCorrelation } from '../../ingest/kafka/internal.js';
import { LiveHunt, type AlertRecord } from '../../detectors/live.js';
import type { NormalizedEvent } from '../../schemas/event.js';
import { sharedPath, SHARED_DIR } from '../support/shared.js';

const DATASETS = sharedPath('datasets');

function latest(records: AlertRecord[]): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (const r of records) {
    if (r.value === null) m.delete(r.key);
    else m.set(`${r.kind}/${r.key}`, r.value);
  }
  return m;
}

function run(events: readonly NormalizedEvent[]): Map<string, unknown> {
  const live = new LiveHunt();
  const out: AlertRecord[] = [];
  // Time order, as a replay over one partition delivers it.
  for (const e of events) out.push(...live.push(e, 'p'));
  live.closePartition('p');
  out.push(...live.drain(), ...live.flush());
  return latest(out);
}

test('stream: the events forwarded to stage 2 give the findings of all events', { skip: !existsSync(DATASETS) && `datasets not found under ${SHARED_DIR}`, timeout: 120_000 }, async () => {
  const events: NormalizedEvent[] = [];
  for await (const it of normalizeFiles(await expandPaths([DATASETS]))) if (it.kind === 'event') events.push(it.event);
  events.sort((a, b) => Date.parse(a['@timestamp']) - Date.parse(b['@timestamp']));
  const forwarded = events.filter(needsCorrelation);
  assert.ok(forwarded.length > 0 && forwarded.length < events.length, `${forwarded.length} of ${events.length} forwarded`);
  const all = run(events), some = run(forwarded);
  assert.ok([...all.keys()].some((k) => k.startsWith('finding/')) && [...all.keys()].some((k) => k.startsWith('session/')), 'sessions and findings on the datasets');
  assert.deepEqual([...some.keys()].sort(), [...all.keys()].sort(), 'the same sessions and findings');
  for (const [k, v] of all) assert.deepEqual(some.get(k), v, k);
});
