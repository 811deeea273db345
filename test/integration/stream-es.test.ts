// `hoptrail stream --es` against the REAL broker and Elasticsearch: one dataset streamed is indexed
// (events, sessions, findings as hunt finds them), and a full replay by a second consumer group adds no
// document (idempotent IDs).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { Client } from '@elastic/elasticsearch';
import { ES_URL, esReachable, IN_CI, KAFKA_BROKERS, skipUnlessReachable, tcpReachable } from './servers.js';
import { sharedPath, SHARED_DIR } from '../support/shared.js';
import { datasetMessages, huntResults, kafka, latest, startStream, tail, uniqueName, waitFor, type ReadRecord } from './stream-support.js';

const DATASET = sharedPath('datasets', 'sd2_190518_psremoting');
const kafkaUp = await tcpReachable(KAFKA_BROKERS[0]);
const esUp = await esReachable();
const skip = !existsSync(DATASET) ? `dataset not found under ${SHARED_DIR}`
  : skipUnlessReachable(kafkaUp, 'Kafka', KAFKA_BROKERS.join(',')) || skipUnlessReachable(esUp, 'Elasticsearch', ES_URL);

test('stream --es: indexed once; a replay adds no document; two stages index the same', { skip, timeout: 90_000 }, async () => {
  assert.ok(kafkaUp && esUp, `Kafka (${String(kafkaUp)}) and Elasticsearch (${String(esUp)}) needed (CI=${String(IN_CI)})`);
  const expected = await huntResults(DATASET);
  const msgs = await datasetMessages(DATASET);
  const k = kafka();
  const admin = k.admin();
  await admin.connect();
  const topic = uniqueName('in'), alerts = uniqueName('alerts'), internal = uniqueName('internal'), alerts2 = uniqueName('alerts2');
  const prefix = `hoptrail-it-s${Date.now().toString(36)}`;
  const es = new Client({ node: ES_URL });
  const producer = k.producer();
  const got: ReadRecord[] = [], got2: ReadRecord[] = [];
  let stop: (() => Promise<void>) | undefined, stop2: (() => Promise<void>) | undefined;
  const count = async (family: string): Promise<number> => {
    await es.indices.refresh({ index: `${prefix}-${family}*`, expand_wildcards: 'all', ignore_unavailable: true });
    return (await es.count({ index: `${prefix}-${family}*`, expand_wildcards: 'all', ignore_unavailable: true })).count;
  };
  const runOnce = async (group: string, extra: string[] = [], p = prefix, [to, records] = [alerts, got] as const): Promise<void> => {
    const c = startStream(['--topic', topic, '--group', group, '--alerts-topic', to, '--es', ES_URL, '--es-prefix', p, '--idle-flush', '2', '--metrics-interval', '0', ...extra]);
    try {
      await waitFor('idle flush', () => c.stderr().includes('idle: releasing held state') && latest(records).findings.size >= expected.findings.size, 60_000, () => c.stderr());
      // The flush's findings are published and indexed before the offsets are committed; then stop.
      await new Promise((r) => setTimeout(r, 1000));
      c.proc.kill('SIGTERM');
      assert.equal(await c.exited, 0, c.stderr().slice(-3000));
    } finally {
      c.proc.kill('SIGKILL');
    }
  };
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }, { topic: alerts, numPartitions: 1 }, { topic: alerts2, numPartitions: 1 }], waitForLeaders: true });
    await producer.connect();
    for (let i = 0; i < msgs.length; i += 200) await producer.send({ topic, messages: msgs.slice(i, i + 200).map((m, j) => ({ value: m.text, partition: (i + j) % 2 })), acks: -1 });
    stop = await tail(k, alerts, got);
    await runOnce(uniqueName('g1'));
    const first = { events: await count('events'), sessions: await count('sessions'), findings: await count('findings') };
    assert.deepEqual(first, { events: msgs.length, sessions: expected.sessions.size, findings: expected.findings.size });
    await runOnce(uniqueName('g2'));
    const second = { events: await count('events'), sessions: await count('sessions'), findings: await count('findings') };
    assert.deepEqual(second, first, 'a replay adds no document');
    // Two stages: stage 1 indexes the events, stage 2 the sessions and findings; the same documents
    // (an alerts topic of its own: read back, the first one's would make stage 2 publish nothing new).
    const staged = `${prefix}-2`;
    stop2 = await tail(k, alerts2, got2);
    await runOnce(uniqueName('g3'), ['--internal-topic', internal], staged, [alerts2, got2]);
    const countIn = async (family: string): Promise<number> => {
      await es.indices.refresh({ index: `${staged}-${family}*`, expand_wildcards: 'all', ignore_unavailable: true });
      return (await es.count({ index: `${staged}-${family}*`, expand_wildcards: 'all', ignore_unavailable: true })).count;
    };
    assert.deepEqual({ events: await countIn('events'), sessions: await countIn('sessions'), findings: await countIn('findings') }, first, 'two stages index the same');
  } finally {
    await stop?.().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await stop2?.().catch(() => undefined);
    await admin.deleteTopics({ topics: [topic, alerts, internal, alerts2] }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await es.indices.deleteDataStream({ name: `${prefix}-*` }).catch(() => undefined);
    await es.indices.delete({ index: `${prefix}-*`, expand_wildcards: 'all', ignore_unavailable: true }).catch(() => undefined);
    await es.close();
  }
});
