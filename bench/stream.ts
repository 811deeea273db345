// bench/stream: sustained events/s from a real Kafka topic through normalization and the detectors to the
// alerts topic (no Elasticsearch), and the delay from a message's arrival to the acknowledgement of the
// findings it completed (p50/p99). Input: the sd2 dataset (Export-WinEvents JSON, one PS-remoting
// session) replayed COPIES times, each copy 30 min of event time after the last, with record IDs and all
// times shifted, so every copy is a new session with its own findings.
// Run (Kafka up: bash scripts/kafka.sh start): npm run build && node dist/bench/stream.js [copies] [ES_URL]
// With ES_URL, events, sessions and findings are also indexed (prefix hoptrail-bench-*, deleted after).
// HOPTRAIL_BENCH_TWO_STAGE=1: both stages of --internal-topic in this one process (stage 1 forwarding to
// an internal topic, stage 2 correlating from it): the cost of the extra hop, not the scale-out.
// HOPTRAIL_BENCH_DECODE_THREADS=N: decoding worker threads (0: all on the consumer's thread; default: the
// runner's, cores - 1).
import { join, resolve, dirname } from 'node:path';
import { loadavg } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { StreamRunner } from '../ingest/kafka/runner.js';
import { jsonLogger } from '../ingest/kafka/log.js';
import { EsStreamSink } from '../ingest/kafka/es.js';
import { ForwardRunner } from '../ingest/kafka/forward.js';
import { connect } from '../sinks/elasticsearch/index.js';
import { datasetMessages } from '../test/integration/stream-support.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHARED = process.env.HOPTRAIL_SHARED ?? join(ROOT, '..', 'shared');
const BROKERS = (process.env.HOPTRAIL_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const COPIES = Number(process.argv[2] ?? 100);
const ES_URL = process.argv[3];
const PARTITIONS = 3;
const TWO_STAGE = process.env.HOPTRAIL_BENCH_TWO_STAGE === '1';
const DECODE = process.env.HOPTRAIL_BENCH_DECODE_THREADS === undefined ? undefined : Number(process.env.HOPTRAIL_BENCH_DECODE_THREADS);

const TIME = /^(\d{4}-\d\d-\d\d)([T ])(\d\d:\d\d:\d\d)(\.\d+)?(Z?)$/;

/** Every time-like string shifted by `ms`, in its own format (ISO or `yyyy-mm-dd hh:mm:ss.fff`). */
function shift(v: unknown, ms: number, rid: number): unknown {
  if (typeof v === 'string') {
    const m = TIME.exec(v);
    if (!m) return v;
    const t = Date.parse(`${m[1]}T${m[3]}${m[4] ?? ''}Z`) + ms;
    const iso = new Date(t).toISOString();
    const frac = m[4] ? iso.slice(19, 19 + m[4].length).padEnd(m[4].length, '0') : '';
    return `${iso.slice(0, 10)}${m[2]}${iso.slice(11, 19)}${frac}${m[5]}`;
  }
  if (Array.isArray(v)) return v.map((x) => shift(x, ms, rid));
  if (typeof v === 'object' && v !== null) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = k === 'EventRecordID' ? String(Number(x) + rid) : shift(x, ms, rid);
    return o;
  }
  return v;
}

/**
 * CPU seconds of this process's main thread and of its other threads (decoding workers, GC helpers), from
 * /proc (Linux; zeros elsewhere). On a shared machine the wall time depends on the others' load; the
 * main thread's CPU per event is what bounds the rate on a core of its own.
 */
function threadCpu(): { main: number; others: number } {
  const tick = 100; // USER_HZ
  let main = 0, others = 0;
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const f = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
      const secs = (Number(fields[11]) + Number(fields[12])) / tick;
      if (Number(tid) === process.pid) main += secs; else others += secs;
    }
  } catch { /* not Linux */ }
  return { main, others };
}

async function main(): Promise<void> {
  const base = (await datasetMessages(join(SHARED, 'datasets', 'sd2_190518_psremoting'))).map((m) => JSON.parse(m.text) as unknown);
  const total = COPIES * base.length;
  let bytes = 0;

  const kafka = new Kafka({ clientId: 'hoptrail-bench', brokers: BROKERS, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const tag = Date.now().toString(36);
  const topic = `hoptrail-bench-in-${tag}`, alerts = `hoptrail-bench-alerts-${tag}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  const producer = kafka.producer();
  await producer.connect();
  const p0 = performance.now();
  // Consecutive messages on one partition, so each partition is in event-time order.
  // Made as they are sent, never all held: a consumer process does not hold hundreds of MB of messages,
  // and an old generation that large would charge the consumer's major GCs with the bench's memory.
  const per = Math.ceil(total / PARTITIONS / 200) * 200;
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < total; i += 200) {
    const partition = Math.min(PARTITIONS - 1, Math.floor(i / per));
    const messages: { value: string; partition: number }[] = [];
    for (let k = i; k < Math.min(total, i + 200); k++) {
      const c = Math.floor(k / base.length);
      const value = JSON.stringify(shift(base[k % base.length], c * 30 * 60_000, c * 10_000_000));
      bytes += value.length;
      messages.push({ value, partition });
    }
    sends.push(producer.send({ topic, messages, acks: 1 }));
    if (sends.length >= 8) await Promise.all(sends.splice(0));
  }
  await Promise.all(sends);
  const produceSecs = (performance.now() - p0) / 1000;
  await producer.disconnect();

  const prefix = `hoptrail-bench-${tag}`;
  const sink = ES_URL ? (await EsStreamSink.open(ES_URL, prefix)).sink : undefined;
  const internal = `hoptrail-bench-internal-${tag}`, group = `hoptrail-bench-${tag}`;
  const runner = new StreamRunner({
    brokers: BROKERS, topic: TWO_STAGE ? internal : topic, group: TWO_STAGE ? `${group}.correlate` : group, alertsTopic: alerts, metricsIntervalMs: 0,
    sink: TWO_STAGE ? undefined : sink, log: jsonLogger('warn'), decodeThreads: DECODE, ...(TWO_STAGE ? { correlate: { inputTopic: topic, inputGroup: group } } : {}),
  });
  const forward = TWO_STAGE ? new ForwardRunner({ brokers: BROKERS, topic, group, internalTopic: internal, metricsIntervalMs: 0, sink, log: jsonLogger('warn'), decodeThreads: DECODE }) : undefined;
  const c0 = process.cpuUsage(), th0 = threadCpu();
  const t0 = performance.now();
  await runner.start();
  await forward?.start();
  let first = 0;
  // Two stages: every message normalized by stage 1, and stage 2 has taken in all it forwarded.
  const done = (): boolean => (forward ? forward.metrics.events + forward.metrics.rejects >= total && runner.metrics.events >= forward.forwarded : runner.metrics.events + runner.metrics.rejects >= total);
  while (!done()) {
    if (first === 0 && (forward ?? runner).metrics.events > 0) first = performance.now();
    await new Promise((r) => setTimeout(r, 20));
  }
  const t1 = performance.now();
  const cpu = process.cpuUsage(c0), th1 = threadCpu();
  const d = runner.delayFigures();
  const m = runner.metrics;
  await forward?.stop();
  await runner.stop();
  await admin.deleteTopics({ topics: [topic, alerts, ...(TWO_STAGE ? [internal] : [])] }).catch(() => undefined);
  await admin.disconnect();
  if (ES_URL) {
    const es = await connect({ url: ES_URL });
    await es.client.indices.deleteDataStream({ name: `${prefix}-*` }).catch(() => undefined);
    await es.client.indices.delete({ index: `${prefix}-*`, expand_wildcards: 'all', ignore_unavailable: true }).catch(() => undefined);
    await es.client.close();
  }

  const secs = (t1 - (first || t0)) / 1000;
  const lines = [
    `bench/stream: ${total} messages (${(bytes / 1e6).toFixed(0)} MB, sd2 dataset x ${COPIES}) over ${PARTITIONS} partitions, ${ES_URL ? 'with' : 'without'} Elasticsearch, ${TWO_STAGE ? `two stages in one process (${forward?.forwarded ?? 0} events forwarded)` : 'one stage'}; produced in ${produceSecs.toFixed(1)} s`,
    `  consumed -> normalized -> detected -> alerts acked: ${secs.toFixed(2)} s from the first message, ${Math.round(total / secs)} events/s (${(bytes / 1e6 / secs).toFixed(1)} MB/s); start-up (group join) ${((first || t0) - t0) / 1000 > 0 ? (((first || t0) - t0) / 1000).toFixed(2) : '0'} s`,
    `  CPU: ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s in this process (main thread ${(th1.main - th0.main).toFixed(1)} s, other threads ${(th1.others - th0.others).toFixed(1)} s: ${Math.round(total / Math.max(0.01, th1.main - th0.main))} events per main-thread CPU second); load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} (the machine's other work counts)`,
    `  decoding: ${DECODE ?? 'default'} worker thread(s); ${runner.decodeStats().onWorkers} of ${runner.decodeStats().slices} slices of batches on workers${forward ? ' (stage 2)' : ''}`,
    `  outputs: ${m.sessions} session(s), ${m.findings} finding publication(s), ${m.retractions} retraction(s), ${m.rejects} reject(s)`,
    `  arrival -> finding acknowledged: p50 ${d.delay_p50_ms ?? '-'} ms, p99 ${d.delay_p99_ms ?? '-'} ms (${runner.delaySamples().length} samples; wall time from the batch that completed a finding)`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

await main();
