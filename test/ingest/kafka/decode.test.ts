// One Kafka message to an event or a dead-letter reason; the dead-letter record keeps the original bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageDecoder } from '../../../ingest/kafka/decode.js';
import { dlqMessage } from '../../../ingest/kafka/dlq.js';
import { ClockKnowledge, Normalizer } from '../../../ingest/normalize/index.js';

const from = { topic: 'winlogbeat', partition: 2, offset: '41' };
const decoder = (max?: number): MessageDecoder => {
  const k = new ClockKnowledge();
  return new MessageDecoder(new Normalizer({ knowledge: k }), k, max);
};
const wlb = {
  '@timestamp': '2024-03-01T10:00:00.123Z',
  winlog: { channel: 'Security', event_id: 4624, provider_name: 'Microsoft-Windows-Security-Auditing', computer_name: 'dc01.corp.local', record_id: 7, event_data: { LogonType: '3', TargetUserName: 'alice' } },
};

test('decode: a Winlogbeat message is normalized with its Kafka position', () => {
  const r = decoder().decode(Buffer.from(JSON.stringify(wlb)), from);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  assert.equal(r.event.host.name, 'dc01.corp.local');
  assert.deepEqual(r.event.hoptrail.provenance.kafka, { topic: 'winlogbeat', partition: 2, offset: 41 });
  assert.equal(r.event.hoptrail.provenance.format, 'winlogbeat-ecs');
});

test('decode: bad messages carry a reason', () => {
  const d = decoder(400);
  const reason = (v: string | null): string => {
    const r = d.decode(v === null ? null : Buffer.from(v), from);
    assert.ok(!r.ok);
    return r.reason;
  };
  assert.match(reason(null), /^empty/);
  assert.match(reason('{"a":'), /^not JSON/);
  assert.match(reason('[1,2]'), /^not a JSON object/);
  assert.match(reason('{"hello":1}'), /^unknown shape/);
  assert.match(reason(JSON.stringify({ ...wlb, winlog: { ...wlb.winlog, event_id: 70000, event_data: {} } })), /^schema: event ID/);
  assert.match(reason('x'.repeat(401)), /^oversized: 401 bytes/);
});

test('dlq: original bytes, source position and reason; keyed by the position', () => {
  const raw = Buffer.from([0xff, 0x00, 0x41]);
  const m = dlqMessage(from, raw, 'not JSON: x');
  assert.equal(m.key, 'winlogbeat/2/41');
  assert.equal(m.value, raw);
  assert.deepEqual(m.headers, { 'hoptrail.reason': 'not JSON: x', 'hoptrail.source.topic': 'winlogbeat', 'hoptrail.source.partition': '2', 'hoptrail.source.offset': '41' });
  assert.equal((dlqMessage(from, null, 'empty message').value as Buffer).length, 0, 'never a tombstone');
});
