// Two-stage failover against the REAL broker: of two `hoptrail stream --internal-topic` instances in one
// group, the one that is the active correlator (owns the internal partition) is killed with SIGKILL in
// mid-stream. The other takes over its input partitions (stage 1) and the correlation (stage 2, rebuilt
// from the internal topic's last commit), and the alerts still equal what `hunt` finds.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { IN_CI, KAFKA_BROKERS, skipUnlessReachable, tcpReachable } from './servers.js';
import { sharedPath, SHARED_DIR } from '../support/shared.js';
import { datasetMessages, huntResults, kafka, latest, shuffleWithin, startStream, tail, uniqueName, waitFor, withoutLocation, type Child, type ReadRecord } from './stream-support.js';

const reachable = await tcpReachable(KAFKA_BROKERS[0]);
const DATASETS = sharedPath('datasets');
const skip = !existsSync(DATASETS) ? `datasets not found under ${SHARED_DIR}` : skipUnlessReachable(reachable, 'Kafka', KAFKA_BROKERS.join(','));

/** An instance's last assignment of `topic` (stage 1 logs `forward: assigned`, stage 2 `assigned`). */
function assignment(c: Child, msg: string, topic: string): number[] | undefined {
  let last: number[] | undefined;
  for (const line of c.stderr().split('\n')) {
    if (!line.includes(`"msg":"${msg}"`)) continue;
    const a = (JSON.parse(line) as { assignment: Record<string, number[]> }).assignment;
    last = [...(a[topic] ?? [])];
  }
  return last;
}

test('stream --internal-topic: the active correlator killed, the other instance takes over, alerts equal hunt', { skip, timeout: 180_000 }, async () => {
  assert.ok(reachable, `Kafka not reachable at ${KAFKA_BROKERS.join(',')} (CI=${String(IN_CI)}): bash scripts/kafka.sh start`);
  // The two datasets whose normalization does not depend on which instance learned a host's clock first.
  const dirs = [join(DATASETS, 'empire_invoke_psremoting_2019'), join(DATASETS, 'covenant_psremoting_command')];
  const expected = await huntResults(...dirs);
  const msgs = shuffleWithin(await datasetMessages(...dirs), 60_000, 29);
  const k = kafka();
  const admin = k.admin();
  await admin.connect();
  const topic = uniqueName('in'), internal = uniqueName('internal'), alerts = uniqueName('alerts'), group = uniqueName('g');
  const producer = k.producer();
  const got: ReadRecord[] = [];
  let stop: (() => Promise<void>) | undefined;
  const children: Child[] = [];
  const logs = (): string => children.map((c, i) => `--- instance ${i}\n${c.stderr().slice(-3000)}`).join('\n');
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }, { topic: alerts, numPartitions: 1 }], waitForLeaders: true });
    const args = ['--topic', topic, '--group', group, '--internal-topic', internal, '--alerts-topic', alerts, '--idle-flush', '5', '--metrics-interval', '2'];
    children.push(startStream(args));
    await waitFor('first instance assigned', () => assignment(children[0], 'forward: assigned', topic)?.length === 4, 45_000, logs);
    children.push(startStream(args));
    await waitFor('the input split', () => children.every((c) => assignment(c, 'forward: assigned', topic)?.length === 2), 60_000, logs);
    await waitFor('one active correlator', () => children.filter((c) => assignment(c, 'assigned', internal)?.length === 1).length === 1, 60_000, logs);
    const active = children.find((c) => assignment(c, 'assigned', internal)?.length === 1);
    const other = children.find((c) => c !== active);
    assert.ok(active && other);

    await producer.connect();
    const messages = msgs.map((m, i) => ({ value: m.text, partition: i % 4 }));
    const send = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i += 100) await producer.send({ topic, messages: messages.slice(i, Math.min(i + 100, to)), acks: -1 });
    };
    stop = await tail(k, alerts, got);
    // Produced live, so the first dataset is released (idle flush) before the next, a year later, comes:
    // back to back, an instance that stalls would see its own tail judged a year late (see the scale test).
    const covenant = msgs.findIndex((m) => m.t >= Date.parse('2020-01-01T00:00:00Z'));
    const cut = covenant + Math.floor((messages.length - covenant) / 2);
    const flushes = (): number => children.reduce((n, c) => n + c.stderr().split('"msg":"idle: releasing held state"').length - 1, 0);
    await send(0, covenant);
    await waitFor('the first dataset released', () => flushes() > 0, 60_000, logs);
    // Then half of the second: the correlator holds its sessions open when it is killed, once its
    // metrics show it took in events of the second dataset.
    const correlated = (): number => {
      const line = active.stderr().split('\n').filter((x) => x.includes('"msg":"metrics"')).at(-1);
      return line ? (JSON.parse(line) as { events: number }).events : 0;
    };
    await new Promise((r) => setTimeout(r, 2500));
    const first = correlated();
    await send(covenant, cut);
    await waitFor('the correlator took in the second dataset', () => correlated() > first, 60_000, logs);
    active.proc.kill('SIGKILL');
    await active.exited;
    const before = other.stderr().length, killedAt = got.length;
    await send(cut, messages.length);

    const diff = (): string => {
      const l = latest(got);
      const miss = (a: Map<string, unknown>, b: Map<string, unknown>): string[] => [...a.keys()].filter((x) => !b.has(x));
      return `missing sessions ${miss(expected.sessions, l.sessions).join(',')}; missing findings ${miss(expected.findings, l.findings).join(',')}\n${other.stderr().slice(-4000)}`;
    };
    await waitFor('all alerts after the failover', () => {
      const l = latest(got);
      return l.sessions.size >= expected.sessions.size && l.findings.size >= expected.findings.size;
    }, 120_000, diff);
    await new Promise((r) => setTimeout(r, 1500));
    // The survivor took over both stages.
    const after = other.stderr().slice(before);
    assert.match(after, new RegExp(`"assignment":\\{"${internal}":\\[0\\]\\},"msg":"assigned"`), 'the survivor became the correlator');
    assert.equal(assignment(other, 'forward: assigned', topic)?.length, 4, 'the survivor reads every input partition');
    const l = latest(got);
    assert.deepEqual([...l.sessions.keys()].sort(), [...expected.sessions.keys()].sort(), 'no session lost, none extra');
    const story = (id: string): string => got.map((r, i) => (r.key === id ? `${i}${i < killedAt ? ' (before the kill)' : ''}` : '')).filter((x) => x).join(', ');
    const notes = (c: Child): string => c.stderr().split('\n').filter((x) => /"sources"|"state restored"|"alerts read back"|"assigned"|"metrics"|"idle/.test(x)).map((x) => x.slice(0, 400)).join('\n');
    for (const [id, x] of expected.sessions) assert.deepEqual(withoutLocation(l.sessions.get(id)), withoutLocation(x), `session ${id}: records ${story(id)}\n--- killed\n${notes(active)}\n--- survivor\n${notes(other)}`);
    assert.deepEqual([...l.findings.keys()].sort(), [...expected.findings.keys()].sort(), 'no finding lost, none extra');
    for (const [id, f] of expected.findings) assert.deepEqual(withoutLocation(l.findings.get(id)), withoutLocation(f), `finding ${id}`);
    for (const r of got) {
      if (r.headers['hoptrail.kind'] === 'session') assert.deepEqual(JSON.parse(r.value ?? 'null'), l.sessions.get(r.key), `session ${r.key} republished identical`);
    }
    other.proc.kill('SIGTERM');
    assert.equal(await other.exited, 0, other.stderr().slice(-3000));
  } finally {
    for (const c of children) c.proc.kill('SIGKILL');
    await stop?.().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await admin.deleteTopics({ topics: [topic, internal, alerts] }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
});
