// Smoke test of the REAL broker of scripts/kafka.sh: produce one message and consume it back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';

// kafkajs logs transient errors it retries itself (coordinator not ready on a fresh broker); the
// assertions say what matters.
import { IN_CI, KAFKA_BROKERS, skipUnlessReachable, tcpReachable } from './servers.js';

const reachable = await tcpReachable(KAFKA_BROKERS[0]);
const skip = skipUnlessReachable(reachable, 'Kafka', KAFKA_BROKERS.join(','));

test('kafka: produce and consume one message', { skip, timeout: 120_000 }, async () => {
  assert.ok(reachable, `Kafka not reachable at ${KAFKA_BROKERS.join(',')} (CI=${String(IN_CI)}): run scripts/services.sh up`);
  const kafka = new Kafka({ clientId: 'hoptrail-it', brokers: KAFKA_BROKERS, logLevel: logLevel.NOTHING });
  const topic = `hoptrail-it-${Date.now().toString(36)}`;
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId: `${topic}-g` });
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    await producer.connect();
    const value = JSON.stringify({ hello: 'winrm', at: Date.now() });
    await producer.send({ topic, messages: [{ key: 'k1', value }] });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const got = await new Promise<{ key: string; value: string }>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no message within 60 s')), 60_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          clearTimeout(t);
          resolve({ key: message.key?.toString() ?? '', value: message.value?.toString() ?? '' });
        },
      });
    });
    assert.deepEqual(got, { key: 'k1', value });
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
});
