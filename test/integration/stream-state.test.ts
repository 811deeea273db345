// The detector state kept in a state topic (--state-topic) against the REAL broker: with a commit horizon
// of 1 s, nearly every message is committed while the sessions and findings it feeds are still open, so
// after a kill -9 the replay from the last commit alone cannot rebuild them; the state topic replayed on
// start does, in the single-process and the two-stage mode (side by side on the same input).
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

// Run twice: with the default TTL (24 h of event time) the restore may drop the older recording, depending
// on when the kill falls; with a TTL of two years it replays both recordings, 15 months apart, so the older
// session leaves the findings window after its restore (the case that brought its command findings back
// without it while a new partition held the event clock back: fixed, and held by a unit test in
// test/detectors/live-stream.test.ts). Two timing-dependent bugs of this test (issue 7) are fixed and held
// by unit tests there too: findings not yet judged at the kill lost their session when the restore
// expired its committed events (the TTL now counts back from the findings last published), and a
// partition that lagged the others had its next events judged late once the restore closed every source
// (a restored session missing commands; replayed sources now stay open until the assignment frees them).
for (const ttl of [undefined, 2 * 366 * 86_400]) {
  test(`stream --state-topic: kill -9 with a 1 s horizon and a restart lose no finding (state TTL ${ttl === undefined ? 'default' : `${ttl} s`})`, { skip, timeout: 180_000 }, async () => {
    assert.ok(reachable, `Kafka not reachable at ${KAFKA_BROKERS.join(',')} (CI=${String(IN_CI)}): bash scripts/kafka.sh start`);
    const dirs = [join(DATASETS, 'empire_invoke_psremoting_2019'), join(DATASETS, 'covenant_psremoting_command')];
    const expected = await huntResults(...dirs);
    const msgs = shuffleWithin(await datasetMessages(...dirs), 60_000, 23);
    const k = kafka();
    const admin = k.admin();
    await admin.connect();
    const topic = uniqueName('in'), internal = uniqueName('internal');
    const modes = [
      { name: 'single', group: uniqueName('g1'), alerts: uniqueName('alerts1'), state: uniqueName('state1'), extra: [] as string[], got: [] as ReadRecord[], before: 0 },
      { name: 'two-stage', group: uniqueName('g2'), alerts: uniqueName('alerts2'), state: uniqueName('state2'), extra: ['--internal-topic', internal], got: [] as ReadRecord[], before: 0 },
    ];
    const producer = k.producer();
    const stops: (() => Promise<void>)[] = [];
    const children: Child[] = [];
    const args = (m: (typeof modes)[number]): string[] => ['--topic', topic, '--group', m.group, '--alerts-topic', m.alerts, '--state-topic', m.state, '--horizon', '1', '--metrics-interval', '0', '--decode-threads', '2', '--decode-min-batch', '1', ...(ttl === undefined ? [] : ['--state-ttl', String(ttl)]), ...m.extra];
    // What the stream committed: stage 1's group reads the input in the two-stage mode, stage 2's the
    // internal topic; the single-process group the input.
    const committed = async (group: string, t: string): Promise<number> => {
      const [c] = await admin.fetchOffsets({ groupId: group, topics: [t] });
      return c.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
    };
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 3 }, ...modes.map((m) => ({ topic: m.alerts, numPartitions: 1 }))], waitForLeaders: true });
      await producer.connect();
      const messages = msgs.map((m, i) => ({ value: m.text, partition: i % 3 }));
      const cut = Math.floor(messages.length * 0.7);
      for (let i = 0; i < cut; i += 100) await producer.send({ topic, messages: messages.slice(i, Math.min(i + 100, cut)), acks: -1 });
      for (const m of modes) stops.push(await tail(k, m.alerts, m.got));
      const first = modes.map((m) => startStream(args(m)));
      children.push(...first);
      const logs = (cs: Child[]): string => cs.map((c, i) => `--- ${modes[i].name}\n${c.stderr().slice(-3000)}`).join('\n');
      await waitFor('first alerts', () => modes.every((m) => m.got.length > 0), 60_000, () => logs(first));
      // Held in memory: the sessions still open at the cut. Committed: most of what was read, as the
      // horizon is 1 s (the single-process group on the input, stage 2's on the internal topic).
      const through = async (): Promise<number[]> => [await committed(modes[0].group, topic), await committed(`${modes[1].group}.correlate`, internal)];
      const internalEnd = async (): Promise<number> => (await admin.fetchTopicOffsets(internal)).reduce((n, p) => n + Number(p.high), 0);
      for (let end = Date.now() + 45_000; Date.now() < end;) {
        const [a, b] = await through();
        if (a >= cut * 0.5 && b >= (await internalEnd()) * 0.5) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      for (const c of first) c.proc.kill('SIGKILL');
      for (const c of first) await c.exited;
      const [a, b] = await through();
      assert.ok(a >= cut * 0.5, `single: committed ${a} of ${cut} before the kill`);
      assert.ok(b >= (await internalEnd()) * 0.5, `two-stage: stage 2 committed ${b} of ${await internalEnd()} before the kill`);
      for (const m of modes) m.before = m.got.length;
      for (let i = cut; i < messages.length; i += 100) await producer.send({ topic, messages: messages.slice(i, i + 100), acks: -1 });
      const second = modes.map((m) => startStream([...args(m), '--idle-flush', '2']));
      children.push(...second);
      for (const [i, m] of modes.entries()) {
        const diff = (): string => {
          const l = latest(m.got);
          const miss = (x: Map<string, unknown>, y: Map<string, unknown>): string[] => [...x.keys()].filter((id) => !y.has(id));
          return `${m.name}: missing sessions ${miss(expected.sessions, l.sessions).join(',')}; missing findings ${miss(expected.findings, l.findings).join(',')}\n${second[i].stderr().slice(-4000)}`;
        };
        await waitFor(`${m.name}: all alerts after the restart`, () => {
          const l = latest(m.got);
          return l.sessions.size >= expected.sessions.size && l.findings.size >= expected.findings.size;
        }, 90_000, diff);
      }
      await new Promise((r) => setTimeout(r, 1500));
      for (const [i, m] of modes.entries()) {
        const l = latest(m.got);
        assert.match(second[i].stderr(), /"events":[1-9][^\n]*"msg":"state restored"/, `${m.name}: state restored`);
        assert.deepEqual([...l.sessions.keys()].sort(), [...expected.sessions.keys()].sort(), `${m.name}: no session lost, none extra`);
        for (const [id, x] of expected.sessions) assert.deepEqual(withoutLocation(l.sessions.get(id)), withoutLocation(x), `${m.name}: session ${id}`);
        const notes = (c: Child): string => c.stderr().split('\n').filter((x) => /"sources"|"state restored"|"alerts read back"|"assigned"|"idle|clock knowledge|"started"/.test(x)).map((x) => x.slice(0, 300)).join('\n');
        const describe = (f: unknown): string => { const x = f as { rule: string; start: string; hosts: string[]; session_ids: string[] }; return `${x.rule} ${x.start} ${x.hosts.join('+')} s=${x.session_ids.length}`; };
        const odd = [...[...l.findings].filter(([id]) => !expected.findings.has(id)).map(([id, f]) => `extra ${id} ${describe(f)} at ${m.got.map((r, j) => (r.key === id ? j : -1)).filter((j) => j >= 0).join('/')}`),
          ...[...expected.findings].filter(([id]) => !l.findings.has(id)).map(([id, f]) => `missing ${id} ${describe(f)}`)].join('\n');
        assert.deepEqual([...l.findings.keys()].sort(), [...expected.findings.keys()].sort(), `${m.name}: no finding lost, none extra (records before the restart: ${m.before})\n${odd}\n--- first run\n${notes(first[i])}\n--- second run\n${notes(second[i])}`);
        for (const [id, f] of expected.findings) assert.deepEqual(withoutLocation(l.findings.get(id)), withoutLocation(f), `${m.name}: finding ${id}`);
        for (const r of m.got) {
          if (r.headers['hoptrail.kind'] === 'session') assert.deepEqual(JSON.parse(r.value ?? 'null'), l.sessions.get(r.key), `${m.name}: session ${r.key} republished identical`);
        }
      }
      for (const c of second) c.proc.kill('SIGTERM');
      for (const c of second) assert.equal(await c.exited, 0, c.stderr().slice(-3000));
    } finally {
      for (const c of children) c.proc.kill('SIGKILL');
      for (const s of stops) await s().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      await admin.deleteTopics({ topics: [topic, internal, ...modes.flatMap((m) => [m.alerts, m.state])] }).catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    }
  });
}
