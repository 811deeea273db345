// Values found by the pipeline fuzz (test/detectors/pipeline-fuzz.test.ts) that once reached the output in a
// shape the schema forbids: each is now dropped, replaced by what is known, or the record is rejected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { int, level } from '../../ingest/json/adapt.js';
import { adapt } from '../../ingest/json/detect.js';
import { flattenEventXml } from '../../ingest/json/eventdata_xml.js';
import { ClockKnowledge, Normalizer } from '../../ingest/normalize/index.js';
import type { SourceRecord } from '../../ingest/normalize/source.js';
import { NormalizedEvent } from '../../schemas/event.js';

const RUN = '2026-12-07T10:00:00.000Z';

function record(extra: Partial<SourceRecord>): SourceRecord {
  return { timestamp: '2020-08-06T15:56:04.866Z', channel: 'Security', provider: 'Microsoft-Windows-Security-Auditing', event_id: 4624, computer: 'WS6.theshire.local', event_data: { LogonType: '3' }, event_data_kind: 'EventData', ...extra };
}

function normalized(extra: Partial<SourceRecord>): NormalizedEvent {
  const r = new Normalizer({ knowledge: new ClockKnowledge(), ingested: RUN }).normalize(record(extra), { format: 'winlogbeat6', file: 'x.json', offset: 0 });
  assert.ok(r.ok, r.ok ? '' : r.reason);
  const v = NormalizedEvent.safeParse(r.event);
  assert.ok(v.success, v.success ? '' : JSON.stringify(v.error.issues));
  return r.event;
}

test('collector integers: only those a double holds exactly (1e308 is an integer too)', () => {
  assert.equal(int(42), 42);
  assert.equal(int('0x10'), 16);
  assert.equal(int(2 ** 53 - 1), 2 ** 53 - 1);
  for (const v of [1e308, -1e308, 2 ** 53, '9007199254740993', '0xFFFFFFFFFFFFFFFFFF', 1.5, 'NaN']) assert.equal(int(v), undefined, String(v));
  assert.equal(level(1e308), undefined);
  assert.equal(level('Information'), 4);
});

test('a record ID past 2^53 is left out; the rest of the record is kept', () => {
  const e = normalized({ record_id: 2 ** 53 });
  assert.equal(e.winlog.record_id, undefined);
  assert.equal(e.winlog.event_id, 4624);
  assert.equal(normalized({ record_id: 409343 }).winlog.record_id, 409343);
});

test('keyword names: an empty one is not a keyword', () => {
  assert.deepEqual(normalized({ keywords: ['', 'Audit Success'] }).winlog.keywords, ['Audit Success']);
  assert.equal(normalized({ keywords: [''] }).winlog.keywords, undefined);
  assert.equal(normalized({ keywords: ['', 'Audit Success'] }).event.outcome, 'success');
});

test("the collector's ingest time: to the millisecond when it is a real UTC time, else this run's", () => {
  assert.equal(normalized({ ingested: '2020-08-06T15:56:07.1581234Z' }).event.ingested, '2020-08-06T15:56:07.158Z');
  for (const bad of ['2019-02-30T00:00:00Z', '2020-08-06T25:56:07.158Z', 'Invoke-Command -ComputerName dc01 Z', '2020-08-06 15:56:07']) {
    assert.equal(normalized({ ingested: bad }).event.ingested, RUN, bad);
  }
});

test('an impossible UTC time is a reject, not an event with a date that does not exist', () => {
  const r = new Normalizer({ ingested: RUN }).normalize(record({ timestamp: '2019-02-30T23:01:01.000Z' }), { format: 'winlogbeat6', file: 'x.json', offset: 0 });
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.reason, /@timestamp is not an ISO UTC time: 2019-02-30T23:01:01\.000Z/);
  // And a written time that does not exist is left out.
  assert.equal(normalized({ written_time: '2019-02-30T23:01:01.000Z' }).event.created, undefined);
});

test("event data names an object already has, or that an assignment does not store, are fields like any other", () => {
  // Winlogbeat 6, as a collector ships it (every format goes through the same helpers: ingest/own.ts).
  const wlb = JSON.parse('{"@timestamp":"2019-05-18T21:14:52.064Z","log_name":"Security","source_name":"Microsoft-Windows-Security-Auditing","event_id":4624,"computer_name":"WS6","record_number":"7","event_data":{"__proto__":"a","constructor":"b","toString":"c","LogonType":"3"}}');
  const a = adapt(wlb, undefined);
  assert.ok('record' in a, 'reason' in a ? a.reason : '');
  const r = new Normalizer({ ingested: RUN }).normalize(a.record, { format: 'winlogbeat6', file: 'x.json', offset: 0 });
  assert.ok(r.ok);
  const data = r.event.winlog.event_data ?? {};
  assert.deepEqual(Object.keys(data).sort(), ['LogonType', '__proto__', 'constructor', 'toString']);
  assert.equal(Object.getPrototypeOf(data), Object.prototype, 'the prototype is not replaced');
  assert.deepEqual(JSON.parse(JSON.stringify(data)), JSON.parse('{"__proto__":"a","constructor":"b","toString":"c","LogonType":"3"}'));
  // Export-WinEvents' XML: a repeated name is numbered, an inherited one is not a repeat.
  const f = flattenEventXml('<EventData><Data Name="constructor">x</Data><Data Name="constructor">y</Data><Data Name="__proto__">z</Data></EventData>');
  assert.deepEqual(Object.entries(f.data), [['constructor', 'x'], ['constructor_2', 'y'], ['__proto__', 'z']]);
});
