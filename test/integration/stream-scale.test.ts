// Scale-out against the REAL broker: two `hoptrail stream --internal-topic` instances in one consumer group
// split the input partitions (stage 1), each host's messages on a partition of its own and the two ends
// of every session on partitions owned by different instances, and still give the sessions and findings
// `hunt` gives on the same files: the half-sessions meet in stage 2 through the internal topic.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { IN_CI, KAFKA_BROKERS, skipUnlessReachable, tcpReachable } from './servers.js';
import { sharedPath, SHARED_DIR } from '../support/shared.js';
import { datasetMessages, huntResults, kafka, latest, shuffleWithin, startStream, tail, uniqueName, waitFor, withoutLocation, type Child, type ReadRecord } from './stream-support.js';

const reachable = await tcpReachable(KAFKA_BROKERS[0]);
const DATASETS = sharedPath('datasets');
const skip = !existsSync(DATASETS) ? `datasets not found under ${SHARED_DIR}` : skipUnlessReachable(reachable, 'Kafka', KAFKA_BROKERS.join(','));

/** The partitions of `topic` an instance was last assigned by its stage-1 consumer (its JSON log). */
function assignedTo(c: Child, topic: string): number[] | undefined {
  let last: number[] | undefined;
  for (const line of c.stderr().split('\n')) {
    if (!line.includes('"forward: assigned"')) continue;
    const a = (JSON.parse(line) as { assignment: Record<string, number[]> }).assignment;
    last = [...(a[topic] ?? [])].sort();
  }
  return last;
}

/** The host a collector message is from (Winlogbeat 6, NXLog); undefined for Export-WinEvents. */
function hostOf(text: string): string | undefined {
  const o = JSON.parse(text) as { computer_name?: string; Hostname?: string };
  return (o.computer_name ?? o.Hostname)?.toLowerCase().split('.')[0];
}

test('stream --internal-topic: two instances in one group give the sessions and findings of hunt', { skip, timeout: 150_000 }, async () => {
  assert.ok(reachable, `Kafka not reachable at ${KAFKA_BROKERS.join(',')} (CI=${String(IN_CI)}): bash scripts/kafka.sh start`);
  const expected = await huntResults(DATASETS);
  assert.ok(expected.sessions.size > 0 && expected.findings.size > 0, 'hunt finds sessions and findings in the datasets');
  const msgs = shuffleWithin(await datasetMessages(DATASETS), 60_000, 13);

  const k = kafka();
  const admin = k.admin();
  await admin.connect();
  const topic = uniqueName('in'), internal = uniqueName('internal'), alerts = uniqueName('alerts'), dlq = uniqueName('dlq'), group = uniqueName('g');
  const producer = k.producer();
  const got: ReadRecord[] = [], dead: ReadRecord[] = [];
  const stops: (() => Promise<void>)[] = [];
  const children: Child[] = [];
  const logs = (): string => children.map((c, i) => `--- instance ${i}\n${c.stderr().slice(-3000)}`).join('\n');
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }, { topic: dlq, numPartitions: 1 }, { topic: alerts, numPartitions: 1 }], waitForLeaders: true });
    const args = ['--topic', topic, '--group', group, '--internal-topic', internal, '--alerts-topic', alerts, '--dlq-topic', dlq, '--idle-flush', '5', '--metrics-interval', '0', '--decode-threads', '2', '--decode-min-batch', '1'];
    children.push(startStream(args));
    await waitFor('first instance assigned', () => assignedTo(children[0], topic)?.length === 4, 45_000, logs);
    children.push(startStream(args));
    const [a, b] = children;
    await waitFor('the partitions split between the instances', () => assignedTo(a, topic)?.length === 2 && assignedTo(b, topic)?.length === 2, 60_000, logs);
    const pa = assignedTo(a, topic) ?? [], pb = assignedTo(b, topic) ?? [];
    // Host j of a dataset goes to instance j % 2: both ends of each session are read by different instances
    // (every dataset's attacker and target come one after the other in sorted order, see below).
    const order = [pa[0], pb[0], pa[1], pb[1]];
    const hosts = [...new Set(msgs.map((m) => hostOf(m.text)).filter((h): h is string => h !== undefined))].sort();
    const partitionOf = new Map(hosts.map((h, j) => [h, order[j % 4]]));
    // Two ends of a session on different instances: checked, not assumed.
    for (const [src, dst] of [['workstation5', 'workstation6'], ['hr001', 'it001']]) {
      const ps = partitionOf.get(src), pd = partitionOf.get(dst);
      assert.ok(ps !== undefined && pd !== undefined, `hosts ${src}, ${dst} in the datasets`);
      assert.notEqual(pa.includes(ps), pa.includes(pd), `${src} and ${dst} are read by different instances`);
    }
    // Export-WinEvents (sd2): spread by position (its clock and names are learned online: README).
    const messages = msgs.map((m, i) => ({ value: m.text, partition: partitionOf.get(hostOf(m.text) ?? '') ?? order[i % 4], year: new Date(m.t).getUTCFullYear() }));
    const poison = ['not json at all {', JSON.stringify({ hello: 'world' })];
    await producer.connect();
    stops.push(await tail(k, alerts, got), await tail(k, dlq, dead));
    // The input is produced live (after the split), one dataset at a time, each released by an idle
    // flush before the next: the datasets are years apart, and produced back to back, an instance that
    // stalls while the other forwards the next dataset would see its own tail judged a year late (as a
    // single process would, for a partition read to its end and then fed old messages: README).
    const flushes = (): number => children.reduce((n, c) => n + c.stderr().split('"msg":"idle: releasing held state"').length - 1, 0);
    for (const [i, year] of [...new Set(messages.map((m) => m.year))].entries()) {
      const part = messages.filter((m) => m.year === year).map(({ value, partition }) => ({ value, partition }));
      if (i === 0) part.splice(Math.floor(part.length / 2), 0, ...poison.map((value, j) => ({ value, partition: order[j] })));
      const seen = flushes();
      for (let j = 0; j < part.length; j += 100) await producer.send({ topic, messages: part.slice(j, j + 100), acks: -1 });
      await waitFor(`the ${year} dataset released`, () => flushes() > seen, 60_000, logs);
    }

    const done = (): boolean => {
      const l = latest(got);
      return l.sessions.size >= expected.sessions.size && l.findings.size >= expected.findings.size && new Set(dead.map((d) => d.key)).size >= poison.length;
    };
    await waitFor('alerts equal to hunt', done, 90_000, logs);
    await new Promise((r) => setTimeout(r, 1500));
    const l = latest(got);
    assert.deepEqual([...l.sessions.keys()].sort(), [...expected.sessions.keys()].sort(), 'session IDs');
    for (const [id, s] of expected.sessions) assert.deepEqual(withoutLocation(l.sessions.get(id)), withoutLocation(s), `session ${id}`);
    // Evidence points at the input message, not at the internal topic.
    assert.match(JSON.stringify([...l.sessions.values()]), new RegExp(`"kafka":\\{"topic":"${topic}","partition":\\d,"offset":\\d+\\}`));
    assert.doesNotMatch(JSON.stringify([...l.sessions.values(), ...l.findings.values()]), new RegExp(internal));
    assert.deepEqual([...l.findings.keys()].sort(), [...expected.findings.keys()].sort(), 'finding IDs');
    for (const [id, f] of expected.findings) assert.deepEqual(withoutLocation(l.findings.get(id)), withoutLocation(f), `finding ${id}`);
    assert.deepEqual([...new Set(dead.map((d) => d.value))].sort(), [...poison].sort(), 'poison messages in the DLQ');

    for (const c of children) c.proc.kill('SIGTERM');
    for (const c of children) assert.equal(await c.exited, 0, c.stderr().slice(-3000));
    // Both instances did stage-1 work (each forwarded its own partitions' events).
    for (const [i, c] of children.entries()) {
      const stopped = c.stderr().split('\n').find((x) => x.includes('"forward: stopped"'));
      assert.ok(stopped, `instance ${i} stopped its stage 1`);
      const events = (JSON.parse(stopped) as { events: number }).events;
      assert.ok(events > 1000, `instance ${i} normalized ${events} events`);
    }
  } finally {
    for (const c of children) c.proc.kill('SIGKILL');
    for (const s of stops) await s().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await admin.deleteTopics({ topics: [topic, internal, alerts, dlq] }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
});
