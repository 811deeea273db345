// The live hunt without a broker: the datasets as messages, partition by partition in batches (as a
// consumer group fetches them), give hunt's sessions and findings; a finding an earlier run published
// and the replay disproves is retracted; the state copy for findings leaves the collector untouched.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { cloneState, LiveHunt, type AlertRecord } from '../../detectors/live.js';
import { MessageDecoder } from '../../ingest/kafka/decode.js';
import { ClockKnowledge, Normalizer } from '../../ingest/normalize/index.js';
import { sharedPath, SHARED_DIR } from '../support/shared.js';
import { datasetMessages, huntResults, shuffleWithin, withoutLocation } from '../integration/stream-support.js';

const DATASETS = sharedPath('datasets');
const skip = existsSync(DATASETS) ? false : `datasets not found under ${SHARED_DIR}`;

function replay(live: LiveHunt, texts: string[], parts: number, batch: number): AlertRecord[] {
  const k = new ClockKnowledge();
  const dec = new MessageDecoder(new Normalizer({ knowledge: k }), k);
  const queues = Array.from({ length: parts }, (_, p) => texts.map((t, i) => ({ t, i })).filter((x) => x.i % parts === p));
  for (let p = 0; p < parts; p++) live.openPartition(`t/${p}`);
  const out: AlertRecord[] = [];
  // Round-robin over partitions, one batch at a time: partitions run ahead of one another by a batch.
  for (let round = 0; queues.some((q) => q.length > 0); round++) {
    for (let p = 0; p < parts; p++) {
      for (const m of queues[p].splice(0, batch)) {
        const d = dec.decode(Buffer.from(m.t), { topic: 't', partition: p, offset: String(m.i) });
        if (d.ok) out.push(...live.push(d.event, `t/${p}`));
      }
      if (queues[p].length === 0) live.closePartition(`t/${p}`);
      k.seal();
      out.push(...live.drain());
      if (round % 3 === 0) out.push(...live.findings());
    }
  }
  out.push(...live.findings(), ...live.flush());
  return out;
}

function latest(recs: AlertRecord[]): { sessions: Map<string, unknown>; findings: Map<string, unknown> } {
  const sessions = new Map<string, unknown>(), findings = new Map<string, unknown>();
  for (const r of recs) {
    if (r.kind === 'session') sessions.set(r.key, r.value);
    else if (r.kind === 'finding') findings.set(r.key, r.value);
    else findings.delete(r.key);
  }
  return { sessions, findings };
}

test('live hunt: datasets over 3 partitions, shuffled within a minute, equal hunt', { skip }, async () => {
  const expected = await huntResults(DATASETS);
  const texts = shuffleWithin(await datasetMessages(DATASETS), 60_000, 3).map((m) => m.text);
  const got = latest(replay(new LiveHunt(), texts, 3, 250));
  assert.deepEqual([...got.sessions.keys()].sort(), [...expected.sessions.keys()].sort());
  assert.deepEqual([...got.findings.keys()].sort(), [...expected.findings.keys()].sort());
  for (const [id, s] of expected.sessions) assert.deepEqual(withoutLocation(got.sessions.get(id)), withoutLocation(s));
  for (const [id, f] of expected.findings) assert.deepEqual(withoutLocation(got.findings.get(id)), withoutLocation(f));
});

test('live hunt: a restored finding the replay does not find is retracted; an identical one is not republished', { skip }, async () => {
  const texts = (await datasetMessages(DATASETS)).map((m) => m.text);
  const first = latest(replay(new LiveHunt(), texts, 2, 500));
  const [keep, value] = [...first.findings][0];
  const live = new LiveHunt();
  live.restore(keep, JSON.stringify(value));
  live.restore('stale', JSON.stringify({ ...(value as object), finding_id: 'stale' }));
  const recs = replay(live, texts, 2, 500);
  assert.ok(recs.some((r) => r.kind === 'retract' && r.key === 'stale'), 'stale retracted');
  assert.ok(!recs.some((r) => r.key === keep), 'unchanged finding not republished');
});

test('cloneState: a deep copy with prototypes, independent of the original', () => {
  class Box { constructor(public items: Map<string, Set<number>>) {} size(): number { return this.items.size; } }
  const a = new Box(new Map([['x', new Set([1])]]));
  const b = cloneState(a);
  assert.ok(b instanceof Box);
  b.items.get('x')?.add(2);
  b.items.set('y', new Set());
  assert.deepEqual([...(a.items.get('x') ?? [])], [1]);
  assert.equal(a.size(), 1);
  assert.equal(b.size(), 2);
});
