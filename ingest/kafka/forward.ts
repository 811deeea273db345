// Stage 1 of the two-stage topology (README: scale-out): every instance of the input topic's consumer
// group decodes, normalizes, dead-letters, optionally indexes events into Elasticsearch, and forwards what
// the correlation can use to the internal topic, with a progress record per batch. It holds no detector
// state, so an input offset is committed as soon as what it produced is acknowledged (internal topic, DLQ,
// Elasticsearch); a crash re-forwards at most the uncommitted tail, which stage 2 drops by source offset.
import { Kafka, logLevel, type Consumer, type EachBatchPayload, type KafkaMessage, type Producer, type Message } from 'kafkajs';
import { ClockKnowledge } from '../normalize/index.js';
import type { NormalizedEvent } from '../../schemas/event.js';
import { DEFAULT_MAX_MESSAGE_BYTES, type MessageOrigin } from './decode.js';
import { REJECTED, USED, type DecodedBatch } from './batch.js';
import { DecodePool, startDecoding } from './workers.js';
import { dlqMessage } from './dlq.js';
import { ensureInternalTopic, eventMessage, knowledgeMessage, progressMessage, readKnowledge, readToEnd, stateTopicConfig } from './internal.js';
import type { Logger } from './log.js';
import { runConsumer } from './consume.js';
import { StreamMetrics } from './metrics.js';
import { chunks, STOP_GRACE_MS, untilDone, type StreamSink } from './runner.js';

export interface ForwardOptions {
  brokers: string[];
  topic: string;
  group: string;
  internalTopic: string;
  dlqTopic?: string;
  clientId?: string;
  maxMessageBytes?: number;
  metricsIntervalMs?: number;
  sessionTimeoutMs?: number;
  /** The state topic (stage 2's): here only the clock knowledge learned online is kept there and merged on start. */
  stateTopic?: string;
  /** Its retention (TTL + horizon): the knowledge is rewritten before it could expire. */
  stateRetentionMs?: number;
  /** Decoding worker threads (0: on the consumer's thread) and the batch size that uses them (ingest/kafka/workers.ts). */
  decodeThreads?: number;
  decodeMinBatch?: number;
  /** Receives the normalized events (Elasticsearch); only `write([...], [])` and `flush()` are used. */
  sink?: StreamSink;
  log: Logger;
}

export class ForwardRunner {
  readonly metrics = new StreamMetrics();
  private readonly kafka: Kafka;
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly decoder: DecodePool;
  private readonly knowledge = new ClockKnowledge();
  /** Next offset to commit per assigned partition (everything before it acknowledged downstream). */
  private readonly due = new Map<string, { topic: string; partition: number; offset: string }>();
  private chain: Promise<unknown> = Promise.resolve();
  private lastCommit = 0;
  private assigned: { topic: string; partitions: number[] }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private commitTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private stopDeadline = Infinity;
  private knowledgeWritten = 0;
  /** Highest offset per partition forwarded and acknowledged: a restarted consumer does not forward it again. */
  private readonly processed = new Map<string, number>();
  forwarded = 0;

  constructor(private readonly o: ForwardOptions) {
    this.kafka = new Kafka({ clientId: o.clientId ?? 'hoptrail-stream-forward', brokers: o.brokers, logLevel: logLevel.NOTHING });
    this.consumer = this.kafka.consumer({ groupId: o.group, maxBytes: 16 << 20, maxBytesPerPartition: 4 << 20, sessionTimeout: o.sessionTimeoutMs ?? 10_000, heartbeatInterval: 1000 });
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    // Forwarded events travel as the JSON the workers make; only a sink needs them as objects.
    this.decoder = new DecodePool({
      threads: o.decodeThreads, minBatch: o.decodeMinBatch, maxBytes: o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      ship: { events: o.sink ? 'all' : 'none', json: true }, knowledge: this.knowledge,
    });
  }

  async start(): Promise<void> {
    const { o } = this;
    await ensureInternalTopic(this.kafka, o.internalTopic);
    const retention = o.stateRetentionMs ?? 25 * 3600_000;
    const topics = [
      ...(o.dlqTopic ? [{ topic: o.dlqTopic, numPartitions: 1 }] : []),
      ...(o.stateTopic ? [{ topic: o.stateTopic, numPartitions: 1, configEntries: stateTopicConfig(retention - 3600_000, 3600_000) }] : []),
    ];
    if (topics.length > 0) {
      const admin = this.kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics, waitForLeaders: true }).catch(() => false).finally(() => admin.disconnect());
    }
    if (o.stateTopic) {
      let n = 0;
      await readToEnd(this.kafka, o.stateTopic, o.group, (m) => { const k = readKnowledge(m); if (k) { this.knowledge.merge(k); n++; } });
      this.knowledge.seal();
      o.log.info('forward: clock knowledge restored', { records: n });
    }
    await this.producer.connect();
    await this.consumer.connect();
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      const a = e.payload.memberAssignment;
      const now = new Set(Object.entries(a).flatMap(([t, ps]) => ps.map((p) => `${t}/${p}`)));
      for (const k of [...this.due.keys()]) if (!now.has(k)) this.due.delete(k);
      for (const k of [...this.processed.keys()]) if (!now.has(k)) this.processed.delete(k);
      for (const { topic, partitions } of this.assigned) for (const p of partitions) if (!now.has(`${topic}/${p}`)) this.metrics.dropLag(topic, p);
      this.assigned = Object.entries(a).map(([topic, partitions]) => ({ topic, partitions }));
      o.log.info('forward: assigned', { assignment: a });
    });
    // Decoding starts as a batch arrives (workers, ahead); the rest waits its turn (see onBatch).
    await runConsumer(this.consumer, o.topic, (p) => this.onBatch(p), o.log, () => this.stopping, 'forward: ', 8);
    // The last commit of a burst is due even if no batch follows (stage 2 waits for it before an idle flush).
    this.commitTimer = setInterval(() => { if (this.due.size > 0 && !this.stopping) void this.serial(() => this.commit()); }, 1000);
    this.commitTimer.unref();
    const every = o.metricsIntervalMs ?? 10_000;
    if (every > 0) {
      this.timer = setInterval(() => o.log.info('forward: metrics', { ...this.metrics.snapshot(), forwarded: this.forwarded }), every);
      this.timer.unref();
    }
    o.log.info('forward: started', { topic: o.topic, group: o.group, internal: o.internalTopic });
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopDeadline = Date.now() + STOP_GRACE_MS;
    clearInterval(this.timer);
    clearInterval(this.commitTimer);
    if (this.assigned.length > 0) this.consumer.pause(this.assigned);
    await this.serial(() => this.commit());
    await this.consumer.disconnect();
    await this.decoder.close();
    await this.producer.disconnect();
    this.o.log.info('forward: stopped', { ...this.metrics.snapshot(), forwarded: this.forwarded });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.chain.then(fn);
    this.chain = r.catch(() => undefined);
    return r;
  }

  /** Decoded as it arrives, in arrival order (ingest/kafka/workers.ts); forwarded in its turn. */
  private onBatch(p: EachBatchPayload): Promise<void> {
    if (this.stopping) return Promise.resolve();
    const { todo, decoded } = startDecoding(this.decoder, p.batch, this.processed);
    return this.serial(() => this.handle(p, todo, decoded));
  }

  private async handle({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload, todo: KafkaMessage[], decoding: Promise<DecodedBatch> | undefined): Promise<void> {
    if (this.stopping) return;
    const { o } = this;
    const source = `${batch.topic}/${batch.partition}`;
    const out: Message[] = [], dlq: Message[] = [], events: NormalizedEvent[] = [];
    const d = decoding ? await decoding : undefined;
    let last: string | undefined;
    // Positions in the decoded batch: the next message of `todo`, reject reason, event object, JSON.
    let j = 0, nr = 0, ne = 0, nj = 0;
    for (const m of batch.messages) {
      if (!isRunning() || isStale()) break;
      const from: MessageOrigin = { topic: batch.topic, partition: batch.partition, offset: m.offset };
      last = m.offset;
      const i = todo[j] === m ? j++ : -1;
      const kind = d && i >= 0 ? d.kinds[i] : undefined;
      const event = kind !== undefined && kind !== REJECTED && o.sink ? d!.events[ne++] : undefined;
      const json = kind === USED ? d!.json[nj++] : undefined;
      const reason = kind === REJECTED ? d!.reasons[nr++] : undefined;
      if (Number(m.offset) <= (this.processed.get(source) ?? -1)) continue;
      if (kind === undefined) throw new Error(`forward: message ${source}/${m.offset} was not decoded`);
      if (reason !== undefined) {
        this.metrics.rejects++;
        dlq.push(dlqMessage(from, m.value, reason));
      } else {
        this.metrics.events++;
        if (event) events.push(event);
        if (json !== undefined) out.push(eventMessage({ json }, source, m.offset));
      }
    }
    if (last === undefined) return;
    const high = Number(batch.highWatermark);
    out.push(progressMessage({ source, through: Number(last), high }));
    const topicMessages: { topic: string; messages: Message[] }[] = [{ topic: o.internalTopic, messages: out.map((m) => ({ ...m, partition: 0 })) }];
    if (o.dlqTopic && dlq.length > 0) topicMessages.push({ topic: o.dlqTopic, messages: dlq });
    // Acknowledged before the offsets that taught it are committed (a restart does not read them again).
    if (o.stateTopic && (this.decoder.tracker.taught || Date.now() - this.knowledgeWritten > (o.stateRetentionMs ?? 25 * 3600_000) / 3)) {
      this.decoder.tracker.taught = false;
      this.knowledgeWritten = Date.now();
      topicMessages.push({ topic: o.stateTopic, messages: [knowledgeMessage(source, this.knowledge.snapshot())] });
    }
    const giveUp = (): boolean => Date.now() > this.stopDeadline;
    for (const chunk of chunks(topicMessages)) await untilDone('forward', () => this.producer.sendBatch({ topicMessages: chunk, acks: -1 }), o.log, giveUp);
    if (o.sink && events.length > 0) {
      await o.sink.write(events, []);
      await o.sink.flush();
    }
    this.forwarded += out.length - 1;
    this.processed.set(source, Number(last));
    this.metrics.setLag(batch.topic, batch.partition, Math.max(0, high - Number(last) - 1));
    resolveOffset(last);
    this.due.set(source, { topic: batch.topic, partition: batch.partition, offset: String(Number(last) + 1) });
    if (Date.now() - this.lastCommit >= 500 || high - Number(last) - 1 <= 0) await this.commit();
    await heartbeat();
  }

  private async commit(): Promise<void> {
    this.lastCommit = Date.now();
    if (this.due.size === 0) return;
    const offsets = [...this.due.values()];
    this.due.clear();
    try {
      await this.consumer.commitOffsets(offsets);
      this.metrics.commits++;
    } catch (e) {
      // Broker unavailable: retried (by the timer if no batch comes). A rebalance: the new owner
      // re-forwards from the last commit (stage 2 drops repeats); revoked partitions leave `due` on re-join.
      for (const d of offsets) if (!this.due.has(`${d.topic}/${d.partition}`)) this.due.set(`${d.topic}/${d.partition}`, d);
      this.o.log.warn('forward: commit failed', { error: String(e) });
    }
  }
}
