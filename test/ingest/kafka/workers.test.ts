// Decoding on worker threads gives what decoding on the consumer's thread gives, byte for byte: the
// datasets (Export-WinEvents with a 12-hour clock and short host names, so the knowledge learned online
// decides event times and host names) with bad messages among them, cut into batches over partitions
// and submitted without waiting, as the runner does with the partitions of a fetch.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { ClockKnowledge, type KnowledgeSnapshot } from '../../../ingest/normalize/clock.js';
import { DecodePool, type BatchIn } from '../../../ingest/kafka/workers.js';
import type { DecodedBatch, Ship } from '../../../ingest/kafka/batch.js';
import { sharedPath, SHARED_DIR } from '../../support/shared.js';
import { datasetMessages } from '../../integration/stream-support.js';

const DATASETS = sharedPath('datasets');
const skip = existsSync(DATASETS) ? false : `datasets not found under ${SHARED_DIR}`;

async function batches(): Promise<BatchIn[]> {
  const msgs = await datasetMessages(DATASETS);
  const values: (Buffer | null)[] = msgs.map((m) => Buffer.from(m.text));
  // Bad messages among the good: each must keep its reason and its place.
  for (const [i, v] of [[5, null], [77, Buffer.alloc(0)], [300, Buffer.from('{"a":')], [301, Buffer.from('[1]')], [1200, Buffer.from('x'.repeat(70_000))]] as const) values.splice(i, 0, v);
  const out: BatchIn[] = [];
  const next = [0, 0, 0];
  // Batches of uneven sizes (1 to 700 messages) over three partitions, in time order overall.
  for (let i = 0, k = 0; i < values.length; k++) {
    const n = [1, 700, 37, 260, 3, 500][k % 6];
    const p = k % 3;
    const vs = values.slice(i, i + n);
    out.push({ topic: 't', partition: p, offsets: vs.map(() => String(next[p]++)), values: vs });
    i += n;
  }
  return out;
}

function canonical(s: KnowledgeSnapshot): unknown {
  const samples = (e: KnowledgeSnapshot['byHost']): unknown => e.map(([k, v]) => [k, [...v.offsets].sort((a, b) => a[0] - b[0]), [...v.anchors].sort((a, b) => a - b)]).sort();
  return { byHost: samples(s.byHost), byFile: samples(s.byFile), fqdn: s.fqdn };
}

async function run(input: BatchIn[], threads: number, minBatch: number, ship: Ship): Promise<{ out: DecodedBatch[]; knowledge: unknown; taught: boolean; onWorkers: number; slices: number }> {
  const knowledge = new ClockKnowledge();
  const pool = new DecodePool({ threads, minBatch, maxBytes: 65_536, ship, knowledge, ingested: '2024-01-01T00:00:00.000Z' });
  try {
    // All submitted at once: the order of the calls, not of completion, decides what each batch knows.
    const out = await Promise.all(input.map((b) => pool.decode(b)));
    return { out, knowledge: canonical(knowledge.snapshot()), taught: pool.tracker.taught, onWorkers: pool.stats.onWorkers, slices: pool.stats.slices };
  } finally {
    await pool.close();
  }
}

test('decode pool: workers (alone or mixed with this thread) decode the datasets as this thread does', { skip, timeout: 240_000 }, async () => {
  const input = await batches();
  for (const ship of [{ events: 'used', json: true }, { events: 'all', json: false }] as Ship[]) {
    const here = await run(input, 0, 1, ship);
    assert.equal(here.onWorkers, 0);
    const kinds = here.out.flatMap((b) => [...b.kinds]);
    assert.ok(kinds.filter((k) => k === 0).length === 5 && here.out.flatMap((b) => b.reasons).some((r) => r.startsWith('oversized')), 'the bad messages are rejected');
    assert.ok(here.out.some((b) => b.events.some((e) => e.hoptrail.clock?.hours_added !== undefined)), 'the 12-hour clock was repaired from what was learned');
    for (const [threads, minBatch] of [[2, 1], [1, 1], [2, 100]]) {
      const there = await run(input, threads, minBatch, ship);
      // Batches longer than a slice are decoded slice by slice, on workers as here.
      assert.ok(there.slices > input.length && there.slices === here.slices);
      assert.ok(there.onWorkers > 0 && (minBatch === 1 ? there.onWorkers === there.slices : there.onWorkers < there.slices));
      assert.deepEqual(there.out.map((b) => ({ ...b, kinds: [...b.kinds] })), here.out.map((b) => ({ ...b, kinds: [...b.kinds] })), `threads ${threads}, min batch ${minBatch}, ship ${ship.events}`);
      assert.deepEqual(there.knowledge, here.knowledge);
      assert.equal(there.taught, here.taught);
    }
  }
});
