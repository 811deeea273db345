// Clock repair in isolation: local time with learned or given zones, the 12-hour bug across the day, and
// the honest `unrepaired` flag when nothing can settle it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClockKnowledge, Normalizer, parseZone, repairTime } from '../../ingest/normalize/index.js';
import type { SourceRecord } from '../../ingest/normalize/index.js';
import { NormalizedEvent } from '../../schemas/event.js';

const base = (over: Partial<SourceRecord>): SourceRecord => ({
  timestamp: '2020-08-06 11:56:22', time_kind: 'local', channel: 'Security', provider: 'Microsoft-Windows-Security-Auditing',
  event_id: 4624, computer: 'WS5.corp.local', event_data: {}, event_data_kind: 'EventData', ...over,
});
const sysmon = (over: Partial<SourceRecord>): SourceRecord => base({ provider: 'Microsoft-Windows-Sysmon', channel: 'Microsoft-Windows-Sysmon/Operational', event_id: 1, ...over });

test('local time: zone learned from Sysmon on the same host, else from the same file, --tz wins', () => {
  const k = new ClockKnowledge();
  k.observe(sysmon({ timestamp: '2020-08-06 11:56:14', event_data: { UtcTime: '2020-08-06 15:56:14.044' } }), 'a.json');
  // Sysmon 3 is ignored: its UtcTime can be days old.
  k.observe(sysmon({ event_id: 3, timestamp: '2020-08-06 11:56:14', event_data: { UtcTime: '2020-07-06 15:56:14.044' } }), 'a.json');
  k.seal();
  assert.deepEqual(repairTime(base({}), 'ws5', 'a.json', k, undefined), {
    timestamp: '2020-08-06T15:56:22.000Z', clock: { original: '2020-08-06 11:56:22', tz_offset_minutes: -240, tz_source: 'sysmon-host' },
  });
  assert.equal(repairTime(base({ computer: 'DC' }), 'dc', 'a.json', k, undefined)?.clock.tz_source, 'sysmon-source');
  assert.deepEqual(repairTime(base({}), 'ws5', 'a.json', k, parseZone('+02:00'))?.timestamp, '2020-08-06T09:56:22.000Z');
  const none = repairTime(base({}), 'ws5', 'other.json', new ClockKnowledge(), undefined);
  assert.equal(none?.clock.unrepaired, true);
  assert.equal(none?.timestamp, '2020-08-06T11:56:22.000Z');
});

test('12-hour bug: AM/PM settled by the nearest Sysmon UtcTime, including the 12 o\'clock hour', () => {
  const k = new ClockKnowledge();
  k.observe(sysmon({ time_kind: 'utc-12h', timestamp: '2022-09-26T11:26:05.846Z', event_data: { UtcTime: '2022-09-26 23:26:05.834' } }), 'f');
  k.seal();
  const r = (t: string) => repairTime(base({ time_kind: 'utc-12h', timestamp: t }), 'ws5', 'f', k, undefined);
  assert.equal(r('2022-09-26T11:26:06.113Z')?.timestamp, '2022-09-26T23:26:06.113Z');
  assert.equal(r('2022-09-26T11:26:06.113Z')?.clock.hours_added, 12);
  // `12:xx` in a 12-hour clock is 00:xx or 12:xx: the anchor at 23:26 picks 12:xx (closer than 00:xx).
  assert.equal(r('2022-09-26T12:10:00.000Z')?.timestamp, '2022-09-26T12:10:00.000Z');
  const k2 = new ClockKnowledge();
  k2.observe(sysmon({ time_kind: 'utc-12h', timestamp: '2022-09-27T12:05:00.000Z', event_data: { UtcTime: '2022-09-27 00:05:00.000' } }), 'f');
  const early = repairTime(base({ time_kind: 'utc-12h', timestamp: '2022-09-27T12:10:00.000Z' }), 'ws5', 'f', k2, undefined);
  assert.equal(early?.timestamp, '2022-09-27T00:10:00.000Z');
  assert.equal(early?.clock.hours_added, -12);
  // No anchor: the export time in the file name with --tz settles it; without --tz it is flagged.
  const exp = base({ time_kind: 'utc-12h', timestamp: '2022-09-26T11:26:06.113Z', export_local_time: '2022-09-26T19:26:20' });
  assert.equal(repairTime(exp, 'x', 'g', undefined, parseZone('-04:00'))?.timestamp, '2022-09-26T23:26:06.113Z');
  assert.equal(repairTime(exp, 'x', 'g', undefined, parseZone('-04:00'))?.clock.half_source, 'export-time');
  assert.equal(repairTime(exp, 'x', 'g', undefined, undefined)?.clock.unrepaired, true);
});

test('Normalizer records the repair on the event and rejects times that are not times', () => {
  const n = new Normalizer({ tz: '-04:00', validate: NormalizedEvent });
  const ok = n.normalize(base({}), { format: 'nxlog', file: 'x.json', line: 1 });
  assert.ok(ok.ok);
  assert.equal(ok.event['@timestamp'], '2020-08-06T15:56:22.000Z');
  assert.deepEqual(ok.event.hoptrail.clock, { original: '2020-08-06 11:56:22', tz_offset_minutes: -240, tz_source: 'option' });
  const bad = n.normalize(base({ timestamp: 'yesterday' }), { format: 'nxlog', file: 'x.json', line: 2 });
  assert.deepEqual(bad, { ok: false, reason: 'time is not a date-time: yesterday' });
  const badUtc = new Normalizer().normalize(base({ time_kind: 'utc', timestamp: '2020-08-06 11:56:22' }), { format: 'evtx' });
  assert.equal(badUtc.ok, false);
  assert.throws(() => new Normalizer({ tz: 'Nowhere/Land' }), /unknown time zone/);
});

test('12-hour anchors stay bounded however long a stream runs: to the minute, once each, the newest kept', () => {
  const k = new ClockKnowledge();
  const start = Date.parse('2022-01-01T00:00:00Z');
  // 100 days of one Sysmon record every 20 s (432 000 records): 144 000 distinct minutes.
  for (let i = 0; i < 432_000; i++) {
    const t = new Date(start + i * 20_000).toISOString();
    k.observe(sysmon({ time_kind: 'utc-12h', timestamp: t, event_data: { UtcTime: t.replace('T', ' ').replace('Z', '') } }), 'f');
  }
  const snap = k.snapshot();
  for (const [, s] of [...snap.byHost, ...snap.byFile]) assert.ok(s.anchors.length <= 100_000, `${s.anchors.length} anchors kept`);
  k.seal();
  for (const [, s] of [...k.snapshot().byHost, ...k.snapshot().byFile]) assert.equal(s.anchors.length, 50_000);
  // The newest are kept: a time near the end is still settled by an anchor on the same host.
  const late = repairTime(base({ time_kind: 'utc-12h', timestamp: '2022-04-10T11:00:00.000Z' }), 'ws5', 'f', k, undefined);
  assert.equal(late?.clock.half_source, 'sysmon-host');
});
