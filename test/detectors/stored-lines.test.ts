// The batch engine holding stored JSON lines (what hunt does: the lines of events.ndjson, read back when
// processed) instead of event objects: the same output, every relevant line read back once, and a record
// pushed twice (overlapping inputs) read back only once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SKIP_NO_SHARED, sharedPath } from '../support/shared.js';
import { hunt, loadEvents } from './support.js';
import { heldNote, HuntEngine, isRelevant, type StoredLine } from '../../detectors/engine.js';
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

test('batch engine: past its cap it says so (hunt prints the note), and holding everything it says nothing', { skip: SKIP_NO_SHARED }, async () => {
  const events = await loadEvents(sharedPath('datasets'));
  const capped = new HuntEngine({ batch: true, maxBuffered: 100 });
  for (const e of events) capped.push(e);
  capped.flush();
  const s = capped.stats();
  assert.ok(s.relevant > 1000 && s.forced > 0, JSON.stringify(s));
  const note = heldNote(s);
  assert.match(note ?? '', /processed before the input ended/);
  if (s.late > 0) assert.match(note ?? '', new RegExp(`${s.late} event\\(s\\) then came older`));
  const whole = new HuntEngine({ batch: true });
  for (const e of events) whole.push(e);
  whole.flush();
  assert.equal(heldNote(whole.stats()), undefined);
});
