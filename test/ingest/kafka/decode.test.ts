// One Kafka message to an event or a dead-letter reason; the dead-letter record keeps the original bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageDecoder, latin1Text } from '../../../ingest/kafka/decode.js';
import { rng } from '../../support/rng.js';
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

test('latin1Text: the UTF-8 decode of text in U+0000..U+00FF, nothing for anything else', () => {
  const r = rng(7);
  const pick = (xs: readonly string[]): string => xs[Math.floor(r() * xs.length)];
  const latin = ['a', '"', '\\', '{', '®', 'é', 'ÿ', '\u0080', '\u00a0', 'Ã', 'Â', '\u0000', '\n'];
  const wide = ['€', 'ā', '中', '😀', '\u0100', '\u07ff', '\u0800'];
  for (let i = 0; i < 3000; i++) {
    const n = Math.floor(r() * 40);
    let s = '';
    for (let k = 0; k < n; k++) s += r() < 0.6 ? 'x' : pick(latin);
    const onlyLatin = s;
    if (i % 3 === 0) { const at = Math.floor(r() * (s.length + 1)); s = s.slice(0, at) + pick(wide) + s.slice(at); }
    const b = Buffer.from(s, 'utf8');
    const t = latin1Text(b);
    if (s === onlyLatin && /[\u0080-\u00ff]/.test(s)) assert.equal(t, s);
    else if (t !== undefined) assert.equal(t, s, 'a result is always the decode');
    if (s !== onlyLatin) assert.equal(t, undefined);
  }
  // Bytes that are not UTF-8 decode to U+FFFD: never Latin-1 text.
  for (const bad of [[0xc3], [0xc3, 0x41], [0x41, 0xc2, 0xc0], [0xc2, 0xae, 0xae], [0xae], [0xc3, 0xa9, 0xff], [0xe2, 0x82, 0xac, 0xc3, 0xa9]]) {
    assert.equal(latin1Text(Buffer.from(bad)), undefined, String(bad));
  }
  // A view into a larger buffer (a Kafka message is one): only its own bytes.
  const big = Buffer.from('®®abc é ®zz', 'utf8');
  assert.equal(latin1Text(big.subarray(2, big.length - 2)), '®abc é ®');
});
