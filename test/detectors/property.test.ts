// Order independence: the sessions do not depend on the order events arrive in (within the lateness
// bound) nor on how the events are split across files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SKIP_NO_SHARED, sharedPath } from '../support/shared.js';
import { hunt, loadEvents, rng, sessionsOf } from './support.js';
import type { NormalizedEvent } from '../../schemas/event.js';

const LATENESS = 5 * 60_000;

/** Arrival order: each event delayed by a random amount below the lateness bound. */
function jitter(events: NormalizedEvent[], seed: number, maxDelay: number): NormalizedEvent[] {
  const r = rng(seed);
  return events
    .map((e) => ({ e, at: Date.parse(e['@timestamp']) + r() * maxDelay }))
    .sort((a, b) => a.at - b.at)
    .map((x) => x.e);
}

const byTime = (evs: NormalizedEvent[]) => [...evs].sort((a, b) => Date.parse(a['@timestamp']) - Date.parse(b['@timestamp']));

test('reordering within the lateness bound gives the same sessions', { skip: SKIP_NO_SHARED }, async () => {
  const events = await loadEvents(sharedPath('datasets'));
  const base = JSON.stringify(sessionsOf(hunt(events, { batch: true })));
  assert.equal(sessionsOf(hunt(events, { batch: true })).length, 3);
  // A stream in time order (no lateness needed) agrees with the batch.
  assert.equal(JSON.stringify(sessionsOf(hunt(byTime(events), { latenessMs: 0, skewMs: 0 }))), base);
  for (const seed of [1, 2, 3]) {
    const shuffled = jitter(events, seed, LATENESS - 1000);
    assert.notDeepEqual(shuffled.map((e) => e.winlog.record_id), events.map((e) => e.winlog.record_id));
    assert.equal(JSON.stringify(sessionsOf(hunt(shuffled, { latenessMs: LATENESS }))), base, `seed ${seed}`);
  }
  // Fully reversed input is far beyond any bound, but as one batch (file hunts) it still orders.
  assert.equal(JSON.stringify(sessionsOf(hunt([...events].reverse(), { batch: true }))), base);
});

test('splitting the input across files differently gives the same sessions (file hunt)', { skip: SKIP_NO_SHARED }, async () => {
  const events = await loadEvents(sharedPath('datasets'));
  const base = JSON.stringify(sessionsOf(hunt(events, { batch: true })));
  for (const seed of [7, 8]) {
    const r = rng(seed);
    const n = 2 + Math.floor(r() * 4);
    const parts = events.map(() => `file${Math.floor(r() * n)}`);
    assert.equal(JSON.stringify(sessionsOf(hunt(events, { batch: true }, parts))), base, `seed ${seed}, ${n} files`);
  }
  // One file per host, read in reverse name order, each reversed inside.
  const byHost = [...events].reverse();
  assert.equal(JSON.stringify(sessionsOf(hunt(byHost, { batch: true }, byHost.map((e) => `z-${e.host.name}`)))), base);
});

test('splitting a stream across partitions differently gives the same sessions (Kafka)', { skip: SKIP_NO_SHARED }, async () => {
  const events = await loadEvents(sharedPath('datasets'));
  const base = JSON.stringify(sessionsOf(hunt(events, { batch: true })));
  for (const seed of [11, 12]) {
    const r = rng(seed);
    const n = 2 + Math.floor(r() * 5);
    // Each partition in time order (as a producer writes it), partitions read one after another.
    const sorted = byTime(events);
    const parts = sorted.map(() => `p${Math.floor(r() * n)}`);
    assert.equal(JSON.stringify(sessionsOf(hunt(sorted, {}, parts))), base, `seed ${seed}, ${n} partitions`);
  }
});

test('beyond the bound, a real stream counts late events instead of hiding them', { skip: SKIP_NO_SHARED }, async () => {
  const events = await loadEvents(sharedPath('datasets'));
  const { HuntEngine } = await import('../../detectors/engine.js');
  const engine = new HuntEngine({ latenessMs: 1000, skewMs: 0 });
  // Hosts one after another, each in its own time order, as one stream: older hosts arrive late.
  const order = [...events].sort((a, b) => (a.host.name < b.host.name ? 1 : a.host.name > b.host.name ? -1 : 0));
  for (const e of order) engine.push(e);
  engine.flush();
  assert.ok(engine.stats().late > 0);
});

test('a stream emits sessions once the watermark has passed them, before the end', { skip: SKIP_NO_SHARED }, async () => {
  const events = byTime(await loadEvents(sharedPath('datasets')));
  const { HuntEngine } = await import('../../detectors/engine.js');
  const engine = new HuntEngine();
  const early: string[] = [];
  for (const e of events) for (const o of engine.push(e)) if (o.kind === 'session') early.push(o.session.destination.host ?? '');
  for (const o of engine.drain()) if (o.kind === 'session') early.push(o.session.destination.host ?? '');
  // The 2019 and 2020 sessions are final long before the 2022 events end the input.
  assert.deepEqual(early.sort(), ['it001.shire.com', 'workstation6.theshire.local']);
  const rest = engine.flush().filter((o) => o.kind === 'session');
  assert.equal(rest.length, 1);
  assert.equal(engine.stats().late, 0);
  assert.ok(engine.stats().relevant < engine.stats().events / 2, 'irrelevant events are dropped before buffering');
});
