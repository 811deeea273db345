// A REAL broker stopped and started again while `hoptrail stream` runs: no finding is lost and no alert
// duplicated, in the single-process mode and in the two-stage mode (--internal-topic), which consume the
// same input side by side. The broker is a private one (scripts/kafka.sh on its own port, default 19092,
// HOPTRAIL_KAFKA_RESTART_PORT) so that stopping it disturbs neither the shared broker nor tests running
// in parallel; it is stopped at the end whatever happens.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { IN_CI, tcpReachable } from './servers.js';
import { REPO_ROOT, sharedPath, SHARED_DIR } from '../support/shared.js';
import { datasetMessages, huntResults, kafka, latest, shuffleWithin, startStream, tail, uniqueName, waitFor, withoutLocation, type Child, type ReadRecord } from './stream-support.js';

const run = promisify(execFile);
const PORT = Number(process.env.HOPTRAIL_KAFKA_RESTART_PORT ?? 19092);
const BROKERS = [`127.0.0.1:${PORT}`];
const DATASETS = sharedPath('datasets');
/** What a stream logs when Kafka does not answer: a retried send or commit, a consumer restart, a send that
 * paused the partitions. */
const OUTAGE = /kafka unavailable|consumer crash|commit failed|slow sink|sinks lag/;

/** scripts/kafka.sh for the private broker (its own port, controller port and data directory). */
async function broker(cmd: 'start' | 'stop'): Promise<string> {
  const env = { ...process.env, HOPTRAIL_KAFKA_PORT: String(PORT), HOPTRAIL_KAFKA_CONTROLLER_PORT: String(PORT + 1), HOPTRAIL_KAFKA_HEAP: '256m' };
  const { stdout, stderr } = await run('bash', [join(REPO_ROOT, 'scripts', 'kafka.sh'), cmd], { env, timeout: 240_000 });
  return stdout + stderr;
}

test('stream: the broker stopped and restarted in mid-stream loses no finding and duplicates no alert', { skip: !existsSync(DATASETS) && `datasets not found under ${SHARED_DIR}`, timeout: 300_000 }, async (t) => {
  try {
    await broker('start');
  } catch (e) {
    const msg = `cannot start a private Kafka on port ${PORT} (scripts/kafka.sh install first): ${String(e).slice(0, 2000)}`;
    if (IN_CI) throw new Error(msg);
    t.skip(msg);
    return;
  }
  const children: Child[] = [];
  const stops: (() => Promise<void>)[] = [];
  const k = kafka(BROKERS);
  const admin = k.admin();
  const producer = k.producer();
  const topic = uniqueName('in'), internal = uniqueName('internal');
  const alerts = { single: uniqueName('alerts1'), staged: uniqueName('alerts2') };
  try {
    // Two datasets a year apart: the outage falls between them, while the first one's last sessions are
    // still held (or, if the idle flush comes first, being published). Either way hunt's result stands,
    // so the test does not depend on how long the broker takes to stop and start.
    const dirs = [join(DATASETS, 'empire_invoke_psremoting_2019'), join(DATASETS, 'covenant_psremoting_command')];
    const expected = await huntResults(...dirs);
    const msgs = shuffleWithin(await datasetMessages(...dirs), 60_000, 17);
    const cut = msgs.findIndex((m) => m.t >= Date.parse('2020-01-01T00:00:00Z'));
    assert.ok(cut > 1000 && cut < msgs.length - 1000, `the datasets split at ${cut} of ${msgs.length}`);
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }, { topic: alerts.single, numPartitions: 1 }, { topic: alerts.staged, numPartitions: 1 }], waitForLeaders: true });
    await producer.connect();
    const messages = msgs.map((m, i) => ({ value: m.text, partition: i % 3 }));
    const send = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i += 100) await producer.send({ topic, messages: messages.slice(i, Math.min(i + 100, to)), acks: -1 });
    };
    await send(0, cut);
    const common = ['--topic', topic, '--idle-flush', '3', '--metrics-interval', '0'];
    const single = startStream([...common, '--group', uniqueName('g1'), '--alerts-topic', alerts.single], BROKERS);
    const staged = startStream([...common, '--group', uniqueName('g2'), '--alerts-topic', alerts.staged, '--internal-topic', internal], BROKERS);
    children.push(single, staged);
    const got = { single: [] as ReadRecord[], staged: [] as ReadRecord[] };
    stops.push(await tail(k, alerts.single, got.single), await tail(k, alerts.staged, got.staged));
    const logs = (): string => `--- single\n${single.stderr().slice(-3000)}\n--- two-stage\n${staged.stderr().slice(-3000)}`;
    await waitFor('alerts from both before the outage', () => got.single.length > 0 && got.staged.length > 0, 60_000, logs);

    await broker('stop');
    assert.equal(await tcpReachable(BROKERS[0], 1000), false, 'the broker is down');
    // Down longer than kafkajs's own retries of a send (about 6 s): the stream's retries must carry it.
    await new Promise((r) => setTimeout(r, 10_000));
    await broker('start');
    await send(cut, messages.length);

    for (const [name, c, records] of [['single', single, got.single], ['two-stage', staged, got.staged]] as const) {
      const diff = (): string => {
        const l = latest(records);
        const miss = (a: Map<string, unknown>, b: Map<string, unknown>): string[] => [...a.keys()].filter((x) => !b.has(x));
        return `${name}: missing sessions ${miss(expected.sessions, l.sessions).join(',')}; missing findings ${miss(expected.findings, l.findings).join(',')}\n${c.stderr().slice(-4000)}`;
      };
      await waitFor(`${name}: all alerts after the restart`, () => {
        const l = latest(records);
        return l.sessions.size >= expected.sessions.size && l.findings.size >= expected.findings.size;
      }, 120_000, diff);
    }
    await new Promise((r) => setTimeout(r, 2000));
    for (const [name, c, records] of [['single', single, got.single], ['two-stage', staged, got.staged]] as const) {
      const l = latest(records);
      assert.deepEqual([...l.sessions.keys()].sort(), [...expected.sessions.keys()].sort(), `${name}: no session lost, none extra`);
      for (const [id, x] of expected.sessions) assert.deepEqual(withoutLocation(l.sessions.get(id)), withoutLocation(x), `${name}: session ${id}`);
      assert.deepEqual([...l.findings.keys()].sort(), [...expected.findings.keys()].sort(), `${name}: no finding lost, none extra\n${c.stderr().slice(-3000)}`);
      for (const [id, f] of expected.findings) assert.deepEqual(withoutLocation(l.findings.get(id)), withoutLocation(f), `${name}: finding ${id}`);
      // A session sent again (a send retried across the outage) is the very same record.
      for (const r of records) {
        if (r.headers['hoptrail.kind'] === 'session') assert.deepEqual(JSON.parse(r.value ?? 'null'), l.sessions.get(r.key), `${name}: session ${r.key} republished identical`);
      }
      t.diagnostic(`${name}: ${c.stderr().split('\n').filter((x) => OUTAGE.test(x) || x.includes('idle')).map((x) => x.slice(0, 200)).join(' | ')}`);
    }
    // The outage reached the streams (kafkajs retries absorb a short one silently, so one of them may
    // only have waited on a send): the test would prove nothing otherwise.
    assert.ok(children.some((c) => OUTAGE.test(c.stderr())), `a stream noticed the outage\n${logs()}`);
    for (const c of children) c.proc.kill('SIGTERM');
    // A stream that does not exit after SIGTERM fails here, with its log, not at the test's timeout.
    for (const c of children) {
      const code = await Promise.race([c.exited, new Promise<string>((r) => setTimeout(() => r('still running 60 s after SIGTERM'), 60_000).unref())]);
      assert.equal(code, 0, c.stderr().slice(-6000));
    }
  } finally {
    for (const c of children) c.proc.kill('SIGKILL');
    for (const s of stops) await s().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await admin.deleteTopics({ topics: [topic, internal, alerts.single, alerts.staged], timeout: 10_000 }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    // The private broker is stopped whatever happened.
    await broker('stop').catch(() => undefined);
  }
});
