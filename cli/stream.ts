// `hoptrail stream`: live SOC mode. Reads collector JSON from a Kafka topic as a consumer group, runs the
// same detectors as `hunt`, and produces sessions and findings to an alerts topic as they appear and
// change. The Kafka edge is ingest/kafka/runner.ts; this module parses options and handles signals.
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { parseArgs, UsageError } from './args.js';
import { isIndexPeriod } from '../sinks/elasticsearch/templates.js';
import { DEFAULT_CONFIG, type RulesConfig } from '../detectors/findings/index.js';
import { parseRulesConfig, RulesConfigError } from '../detectors/findings/config.js';
import { StreamRunner } from '../ingest/kafka/runner.js';
import { jsonLogger, type Level } from '../ingest/kafka/log.js';
import { EsStreamSink } from '../ingest/kafka/es.js';
import { ForwardRunner } from '../ingest/kafka/forward.js';

const USAGE = `usage: hoptrail stream --brokers LIST --topic T [--group G] [--alerts-topic T2] [--dlq-topic T3] [--es URL]
  --brokers LIST       Kafka bootstrap servers, comma-separated (host:port,...)
  --topic T            topic of Winlogbeat 6/7/8, NXLog, Export-WinEvents or evtx-style JSON (detected per message)
  --group G            consumer group (default hoptrail-stream)
  --internal-topic T4  scale-out: run as two stages joined by the one-partition topic T4 (ingest/kafka/README.md).
                       Stage 1 (group G, every instance) decodes, normalizes, dead-letters, indexes events (--es)
                       and forwards what the detectors use to T4; stage 2 (group G.correlate, one active
                       instance, the others on standby) runs the detectors on T4. Without it: one process, one stage.
  --state-topic T5     keep the detector state in T5 (compacted, time-bounded): every event the detectors use,
                       replayed into them on start, so a restart keeps state older than the commit horizon,
                       and the clock and FQDN knowledge learned online (with --internal-topic: stage 2's
                       state, and every stage-1 instance's knowledge)
  --state-ttl SEC      event time kept in the state topic (default 86400, the findings window)
  --stage S            with --internal-topic: both (default), forward (stage 1 only) or correlate (stage 2 only)
  --alerts-topic T2    sessions (key: session ID) and findings (key: finding ID; null value: retracted)
  --dlq-topic T3       messages that cannot be used: original bytes, source topic/partition/offset, reason
  --es URL             also index events, sessions and findings into Elasticsearch (offsets commit after ES has them)
  --es-prefix P        index name prefix (default hoptrail, as the dashboards expect)
  --es-index-period day|month|year  without data streams, one index per day (default), month or year of
                       event time
  --lateness SEC       out-of-order arrival tolerated (default 300)
  --skew SEC           clock skew tolerated between hosts (default 120)
  --horizon SEC        event time a message can still change state; offsets behind it are committed
                       (default: lateness + 3 x skew + idle close + script timeout + margin, about 31 min)
  --idle-flush SEC     no message for SEC seconds: release everything held as final (default: never)
  --max-message-bytes N  larger messages go to the dead-letter topic (default 1048576)
  --decode-threads N   worker threads that parse and normalize messages (default: the cores less one, at
                       most 4, none below 3 cores; 0: on the consumer's thread; 1 helps on 2 cores only
                       when other processes compete for them)
  --decode-min-batch N with 2 or more decode threads, batches of fewer messages are decoded on the
                       consumer's thread (default 256)
  --rules FILE         JSON rules file, as for hunt
  --metrics-interval SEC  metrics log line period (default 10; 0: off)
  --metrics-port PORT  serve Prometheus text on http://127.0.0.1:PORT/metrics
  --log-level LEVEL    debug, info, warn, error (default info)
Logs are JSON lines on stderr. SIGINT/SIGTERM: finish the batch in hand, publish, commit, leave the group.`;

export async function run(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs(argv, {
      brokers: 'string', topic: 'string', group: 'string', 'alerts-topic': 'string', 'dlq-topic': 'string', es: 'string',
      lateness: 'string', skew: 'string', horizon: 'string', 'idle-flush': 'string', 'max-message-bytes': 'string', rules: 'string',
      'metrics-interval': 'string', 'metrics-port': 'string', 'log-level': 'string', 'es-prefix': 'string', 'es-index-period': 'string', 'internal-topic': 'string', stage: 'string', 'state-topic': 'string', 'state-ttl': 'string', 'decode-threads': 'string', 'decode-min-batch': 'string', help: 'boolean',
    });
  } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`hoptrail stream: ${e.message}\n${USAGE}\n`); return 2; }
    throw e;
  }
  const f = args.flags;
  if (f.help || argv.includes('-h')) { process.stdout.write(USAGE + '\n'); return 0; }
  const usage = (msg: string): number => { process.stderr.write(`hoptrail stream: ${msg}\n${USAGE}\n`); return 2; };
  const str = (name: string): string | undefined => (typeof f[name] === 'string' ? f[name] : undefined);
  const brokers = str('brokers'), topic = str('topic');
  if (!brokers || !topic) return usage('--brokers and --topic are required');
  if (args.positional.length > 0) return usage(`unexpected argument '${args.positional[0]}'`);
  const nums: Record<string, number | undefined> = {};
  for (const n of ['state-ttl', 'lateness', 'skew', 'horizon', 'idle-flush', 'max-message-bytes', 'metrics-interval', 'metrics-port', 'decode-threads', 'decode-min-batch']) {
    const v = str(n);
    if (v === undefined) continue;
    const x = Number(v);
    if (!Number.isFinite(x) || x < 0) return usage(`--${n} needs a non-negative number`);
    nums[n] = x;
  }
  const level = str('log-level') ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(level)) return usage('--log-level needs debug, info, warn or error');
  const period = str('es-index-period');
  if (period !== undefined && !isIndexPeriod(period)) return usage('--es-index-period needs day, month or year');
  const log = jsonLogger(level as Level);
  const internalTopic = str('internal-topic');
  const stage = str('stage') ?? 'both';
  if (!['both', 'forward', 'correlate'].includes(stage)) return usage('--stage needs both, forward or correlate');
  if (str('stage') !== undefined && internalTopic === undefined) return usage('--stage needs --internal-topic');
  if (internalTopic !== undefined && internalTopic === topic) return usage('--internal-topic must differ from --topic');
  const forwarding = internalTopic !== undefined && stage !== 'correlate';
  const correlating = internalTopic === undefined || stage !== 'forward';
  let rules: RulesConfig = DEFAULT_CONFIG;
  const rulesFile = str('rules');
  if (rulesFile !== undefined) {
    try {
      rules = parseRulesConfig(await readFile(rulesFile, 'utf8'));
    } catch (e) {
      process.stderr.write(`hoptrail stream: ${e instanceof RulesConfigError ? e.message : `cannot read ${rulesFile}: ${(e as Error).message}`}\n`);
      return 2;
    }
  }
  let sink: EsStreamSink | undefined, forwardSink: EsStreamSink | undefined;
  const esUrl = str('es');
  if (esUrl !== undefined) {
    try {
      // Two stages in one process: each its own sink (stage 1 events, stage 2 sessions and findings).
      const es = await EsStreamSink.open(esUrl, str('es-prefix'), period);
      if (forwarding && correlating) forwardSink = (await EsStreamSink.open(esUrl, str('es-prefix'), period)).sink;
      if (correlating) sink = es.sink;
      else forwardSink = es.sink;
      log.info('elasticsearch', { server: es.description });
    } catch (e) {
      // The message never carries credentials (the sink describes the server without them).
      log.error('cannot open Elasticsearch', { error: (e as Error).message });
      return 1;
    }
  }
  const ms = (n: string): number | undefined => (nums[n] === undefined ? undefined : nums[n] * 1000);
  const brokerList = brokers.split(',').map((b) => b.trim()).filter((b) => b);
  const group = str('group') ?? 'hoptrail-stream';
  const forward = forwarding && internalTopic !== undefined ? new ForwardRunner({
    brokers: brokerList, topic, group, internalTopic, dlqTopic: str('dlq-topic'), maxMessageBytes: nums['max-message-bytes'],
    stateTopic: str('state-topic'), stateRetentionMs: (ms('state-ttl') ?? 86_400_000) + (ms('horizon') ?? 31 * 60_000),
    metricsIntervalMs: ms('metrics-interval'), sink: forwardSink, log, decodeThreads: nums['decode-threads'], decodeMinBatch: nums['decode-min-batch'],
  }) : undefined;
  const runner = !correlating ? undefined : new StreamRunner({
    brokers: brokerList,
    topic: internalTopic ?? topic,
    group: internalTopic === undefined ? group : `${group}.correlate`,
    correlate: internalTopic === undefined ? undefined : { inputTopic: topic, inputGroup: group },
    alertsTopic: str('alerts-topic'),
    dlqTopic: str('dlq-topic'),
    stateTopic: str('state-topic'),
    stateTtlMs: ms('state-ttl'),
    latenessMs: ms('lateness'),
    skewMs: ms('skew'),
    horizonMs: ms('horizon'),
    idleFlushMs: ms('idle-flush'),
    maxMessageBytes: nums['max-message-bytes'],
    decodeThreads: nums['decode-threads'],
    decodeMinBatch: nums['decode-min-batch'],
    metricsIntervalMs: ms('metrics-interval'),
    rules,
    sink,
    log,
  });

  let server: Server | undefined;
  const port = nums['metrics-port'];
  if (port !== undefined) {
    server = createServer((req, res) => {
      if (req.url !== '/metrics') { res.writeHead(404).end(); return; }
      const text = (runner?.metrics.prometheus() ?? '') + (forward?.metrics.prometheus().replaceAll('hoptrail_stream_', 'hoptrail_forward_') ?? '');
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text);
    });
    await new Promise<void>((r) => server?.listen(port, '127.0.0.1', () => r()));
    log.info('metrics served', { url: `http://127.0.0.1:${port}/metrics` });
  }

  const stopped = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  try {
    await runner?.start();
    await forward?.start();
  } catch (e) {
    log.error('cannot start', { error: (e as Error).message });
    server?.close();
    return 1;
  }
  const sig = await stopped;
  log.info('stopping', { signal: sig });
  try {
    // Stage 1 first: its last batch reaches the internal topic before stage 2 publishes and leaves.
    await forward?.stop();
    await forwardSink?.close();
    await runner?.stop();
  } catch (e) {
    log.error('stop failed', { error: (e as Error).message });
    return 1;
  } finally {
    server?.close();
  }
  return 0;
}
