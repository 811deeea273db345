// `hoptrail stream` against the REAL broker: the datasets replayed as collector messages over several
// partitions, out of order within the lateness bound, give the same sessions and findings as `hunt` on
// the same files; poison messages land in the dead-letter topic with their reason and source offset.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IN_CI, KAFKA_BROKERS, skipUnlessReachable, tcpReachable } from './servers.js';
import { sharedPath, SHARED_DIR } from '../support/shared.js';
import { existsSync } from 'node:fs';
import { datasetMessages, huntResults, kafka, latest, shuffleWithin, startStream, tail, uniqueName, waitFor, withoutLocation, type ReadRecord } from './stream-support.js';

const reachable = await tcpReachable(KAFKA_BROKERS[0]);
const DATASETS = sharedPath('datasets');
const skip = !existsSync(DATASETS) ? `datasets not found under ${SHARED_DIR}` : skipUnlessReachable(reachable, 'Kafka', KAFKA_BROKERS.join(','));

test('stream: replay of the datasets equals hunt; poison messages go to the DLQ', { skip, timeout: 90_000 }, async () => {
  assert.ok(reachable, `Kafka not reachable at ${KAFKA_BROKERS.join(',')} (CI=${String(IN_CI)}): bash scripts/kafka.sh start`);
  const expected = await huntResults(DATASETS);
  assert.ok(expected.sessions.size > 0 && expected.findings.size > 0, 'hunt finds sessions and findings in the datasets');
  const msgs = shuffleWithin(await datasetMessages(DATASETS), 60_000, 7);

  const k = kafka();
  const admin = k.admin();
  await admin.connect();
  const topic = uniqueName('in'), alerts = uniqueName('alerts'), dlq = uniqueName('dlq');
  const producer = k.producer();
  const got: ReadRecord[] = [], dead: ReadRecord[] = [];
  const stops: (() => Promise<void>)[] = [];
  let child: ReturnType<typeof startStream> | undefined;
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }, { topic: dlq, numPartitions: 1 }, { topic: alerts, numPartitions: 1 }], waitForLeaders: true });
    await producer.connect();
    const poison = [
      { value: 'this is not json {', reason: /^not JSON/ },
      { value: JSON.stringify({ hello: 'world' }), reason: /^unknown shape/ },
      { value: JSON.stringify({ log_name: 'Security', event_id: 99999, source_name: 'Microsoft-Windows-Security-Auditing', computer_name: 'ws1', '@timestamp': '2020-08-06T15:56:07.158Z' }), reason: /^schema: event ID/ },
      { value: JSON.stringify({ EventID: 1, Hostname: 'x', pad: 'a'.repeat(70_000) }), reason: /^oversized/ },
    ];
    // Spread over the partitions at random (seeded by position), poison in the middle of the stream.
    const messages = msgs.map((m, i) => ({ value: m.text, partition: (i * 7919) % 4 }));
    const at = Math.floor(messages.length / 2);
    messages.splice(at, 0, ...poison.map((p, i) => ({ value: p.value, partition: i % 4 })));
    for (let i = 0; i < messages.length; i += 200) await producer.send({ topic, messages: messages.slice(i, i + 200), acks: -1 });
    // Started once everything is on the topic: a replay. Started earlier, a producer slower than the idle
    // flush (a loaded CI machine) would make the flush fire mid-replay and the rest arrive late.
    // Every batch decoded on the worker threads (ingest/kafka/workers.ts), however small.
    const c = startStream(['--topic', topic, '--group', uniqueName('g'), '--alerts-topic', alerts, '--dlq-topic', dlq, '--idle-flush', '2', '--max-message-bytes', '65536', '--metrics-interval', '1', '--decode-threads', '2', '--decode-min-batch', '1']);
    child = c;

    stops.push(await tail(k, alerts, got), await tail(k, dlq, dead));
    const done = (): boolean => {
      const l = latest(got);
      return dead.length >= poison.length && l.sessions.size >= expected.sessions.size && l.findings.size >= expected.findings.size;
    };
    await waitFor('alerts equal to hunt', done, 60_000, () => c.stderr());
    // A moment more: nothing further (an extra finding, a retraction) may follow.
    await new Promise((r) => setTimeout(r, 1500));
    const l = latest(got);
    assert.deepEqual([...l.sessions.keys()].sort(), [...expected.sessions.keys()].sort(), 'session IDs');
    // Equal but for where evidence was read: stream evidence points at the Kafka message.
    for (const [id, s] of expected.sessions) assert.deepEqual(withoutLocation(l.sessions.get(id)), withoutLocation(s), `session ${id}`);
    assert.match(JSON.stringify([...l.sessions.values()]), new RegExp(`"kafka":\\{"topic":"${topic}","partition":\\d,"offset":\\d+\\}`));
    assert.deepEqual([...l.findings.keys()].sort(), [...expected.findings.keys()].sort(), 'finding IDs');
    for (const [id, f] of expected.findings) assert.deepEqual(withoutLocation(l.findings.get(id)), withoutLocation(f), `finding ${id}`);

    assert.equal(dead.length, poison.length);
    for (const p of poison) {
      const d = dead.find((x) => x.value === p.value);
      assert.ok(d, `poison message in the DLQ: ${p.value.slice(0, 40)}`);
      assert.match(d.headers['hoptrail.reason'], p.reason);
      assert.equal(d.headers['hoptrail.source.topic'], topic);
      assert.match(d.headers['hoptrail.source.offset'], /^\d+$/);
      assert.equal(d.key, `${topic}/${d.headers['hoptrail.source.partition']}/${d.headers['hoptrail.source.offset']}`);
    }
    c.proc.kill('SIGTERM');
    assert.equal(await c.exited, 0, c.stderr().slice(-3000));
    assert.match(c.stderr(), /"msg":"metrics"/);
  } finally {
    child?.proc.kill('SIGKILL');
    for (const s of stops) await s().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await admin.deleteTopics({ topics: [topic, alerts, dlq] }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
});
