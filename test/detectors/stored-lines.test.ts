// The batch engine holding stored JSON lines (what hunt does: the lines of events.ndjson, read back when
// processed) instead of event objects: the same output, every relevant line read back once, and a record
// pushed twice (overlapping inputs) read back only once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SKIP_NO_SHARED, sharedPath } from '../support/shared.js';
import { hunt, loadEvents } from './support.js';
import { HuntEngine, isRelevant, type StoredLine } from '../../detectors/engine.js';
import type { HuntOutput } from '../../detectors/session.js';
import type { NormalizedEvent } from '../../schemas/event.js';

function huntStored(events: NormalizedEvent[], reads: { n: number }): HuntOutput[] {
  const engine = new HuntEngine({ batch: true });
  const out: HuntOutput[] = [];
  for (const e of events) {
    const line = JSON.stringify(e);
    const stored: StoredLine = { text: () => { reads.n++; return line; } };
    out.push(...engine.push(e, undefined, stored));
  }
  out.push(...engine.drain(), ...engine.flush());
  return out;
}

test('batch engine: stored lines give the output of event objects, each read back once', { skip: SKIP_NO_SHARED }, async () => {
  const events = await loadEvents(sharedPath('datasets'));
  const relevant = events.filter(isRelevant).length;
  const want = JSON.stringify(hunt(events, { batch: true }));
  const reads = { n: 0 };
  assert.equal(JSON.stringify(huntStored(events, reads)), want);
  assert.ok(relevant > 1000 && reads.n <= relevant, `${reads.n} reads for ${relevant} relevant events`);
  // Every event twice (as from two copies of the inputs): the same output, duplicates never read back.
  const twice = { n: 0 };
  assert.equal(JSON.stringify(huntStored([...events, ...events], twice)), want);
  assert.equal(twice.n, reads.n);
});
