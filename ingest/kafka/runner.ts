// The Kafka edge of `hoptrail stream`: a consumer group in, the alerts and dead-letter topics out, offsets
// committed only when everything the messages produced is acknowledged and no longer depends on state
// held in memory (ingest/kafka/offsets.ts). The detection itself is detectors/live.ts.
import { Kafka, logLevel, type Admin, type Consumer, type EachBatchPayload, type KafkaMessage, type Producer, type Message } from 'kafkajs';
import { LiveHunt, type AlertRecord, type LiveOptions } from '../../detectors/live.js';
import { ClockKnowledge } from '../normalize/index.js';
import { DEFAULT_MAX_MESSAGE_BYTES, type MessageOrigin } from './decode.js';
import { REJECTED, USED, type DecodedBatch } from './batch.js';
import { DecodePool, startDecoding } from './workers.js';
import { dlqMessage, type OutMessage } from './dlq.js';
import type { Logger } from './log.js';
import { runConsumer } from './consume.js';
import { StreamMetrics } from './metrics.js';
import { OffsetBook } from './offsets.js';
import { ensureInternalTopic, eventMessage, findingsMarkMessage, knowledgeMessage, readFindingsMark, readInternal, readKnowledge, readToEnd, replayState, stateTopicConfig, type StateEvent } from './internal.js';
import type { NormalizedEvent } from '../../schemas/event.js';

/** A further output (the Elasticsearch sink): written before the offsets that fed it are committed. */
export interface StreamSink {
  write(events: readonly NormalizedEvent[], alerts: readonly AlertRecord[]): Promise<void>;
  /** Everything written so far is durable when this resolves. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface RunnerOptions extends LiveOptions {
  brokers: string[];
  topic: string;
  group: string;
  alertsTopic?: string;
  dlqTopic?: string;
  clientId?: string;
  maxMessageBytes?: number;
  /** Findings are re-evaluated at most this often (wall time). Default 250 ms. */
  findingsIntervalMs?: number;
  /** No message for this long (wall time): everything held is released as final. 0: never. Default 0. */
  idleFlushMs?: number;
  /** Event time behind the newest after which a message no longer matters to state (commit horizon). */
  horizonMs?: number;
  metricsIntervalMs?: number;
  /** A send slower than this pauses the assigned partitions until it is acknowledged. */
  slowSinkMs?: number;
  sink?: StreamSink;
  sessionTimeoutMs?: number;
  /** Decoding worker threads (0: on the consumer's thread); default ingest/kafka/workers.ts defaultDecodeThreads. */
  decodeThreads?: number;
  /** Batches with fewer messages are decoded on the consumer's thread. Default 256. */
  decodeMinBatch?: number;
  /**
   * Stage 2 of the two-stage topology: `topic` is the internal topic, fed by stage 1 (ingest/kafka/
   * forward.ts) reading `inputTopic` in consumer group `inputGroup`. Each input partition is then a source
   * of the engine's watermark, behind or caught up as stage 1's progress records say.
   */
  correlate?: { inputTopic: string; inputGroup: string };
  /**
   * State changelog (compacted and time-bounded topic): every event the detectors use is written there,
   * after what its batch produced was acknowledged, and replayed into the detectors on start, so the state
   * survives a restart beyond the commit horizon (README: state topic).
   */
  stateTopic?: string;
  /** Event time kept in the state topic behind its newest event. Default 24 h (the findings window). */
  stateTtlMs?: number;
  log: Logger;
}

/** Requests under the broker's default message.max.bytes (1 MiB): a large batch of alerts is split. */
const MAX_REQUEST_BYTES = 512 * 1024;

export function chunks(tms: { topic: string; messages: Message[] }[]): { topic: string; messages: Message[] }[][] {
  const out: { topic: string; messages: Message[] }[][] = [];
  let cur: { topic: string; messages: Message[] }[] = [], size = 0;
  for (const tm of tms) {
    for (const m of tm.messages) {
      const n = (m.value?.length ?? 0) + (typeof m.key === 'string' ? m.key.length : 0) + 64;
      if (size + n > MAX_REQUEST_BYTES && size > 0) { out.push(cur); cur = []; size = 0; }
      const last = cur.at(-1);
      if (last?.topic === tm.topic) last.messages.push(m);
      else cur.push({ topic: tm.topic, messages: [m] });
      size += n;
    }
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/**
 * Runs a Kafka call until it succeeds: a broker that is down or restarting makes sends and commits fail
 * for a while, and giving up would drop alerts the detectors already released. Backs off to 5 s; gives up
 * only when `giveUp()` says so (a stop that cannot reach the broker).
 */
export async function untilDone<T>(what: string, fn: () => Promise<T>, log: Logger, giveUp: () => boolean): Promise<T> {
  for (let wait = 250, failures = 0; ; wait = Math.min(wait * 2, 5000)) {
    try {
      const r = await fn();
      if (failures > 0) log.info('kafka reachable again', { what, failures });
      return r;
    } catch (e) {
      if (giveUp()) throw e;
      if (failures++ === 0 || failures % 10 === 0) log.warn('kafka unavailable: retrying', { what, error: String(e), failures });
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/** After a stop begins, Kafka calls are retried this long before the stop gives up. */
export const STOP_GRACE_MS = 30_000;

/** The default commit horizon: lateness, pairing wait, idle close and script timeout, with a margin. */
export function defaultHorizonMs(o: LiveOptions): number {
  const lateness = o.latenessMs ?? 5 * 60_000, skew = o.skewMs ?? 2 * 60_000;
  return lateness + 3 * skew + 30_000 + (o.idleMs ?? 10 * 60_000) + (o.scriptTimeoutMs ?? 5 * 60_000) + 5 * 60_000;
}

export class StreamRunner {
  readonly metrics = new StreamMetrics();
  private readonly kafka: Kafka;
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private live: LiveHunt;
  private readonly decoder: DecodePool;
  private readonly knowledge = new ClockKnowledge();
  private book = new OffsetBook();
  private readonly horizonMs: number;
  private readonly stateTtlMs: number;
  private chain: Promise<unknown> = Promise.resolve();
  private timers: NodeJS.Timeout[] = [];
  private lastFindings = 0;
  private lastCommit = 0;
  /** Assigned partitions known to be read to their end (lag 0 at their last batch, or empty). */
  private readonly caughtUp = new Set<string>();
  private lastMessage = Date.now();
  private heldSinceFlush = false;
  /** Arrival (wall) of the oldest batch since findings were last evaluated: what a new finding waited for. */
  private evalArrival: number | undefined;
  private readonly delays: number[] = [];
  private assigned: { topic: string; partitions: number[] }[] = [];
  private stopping = false;
  /**
   * The state horizon as of the last findings evaluation that was published: findings are throttled, so
   * a message behind the current horizon is only done once an evaluation after it was acknowledged.
   */
  private evaluatedCutoff = -Infinity;
  /** Bumped on every assignment: backlogged partitions are declared to the engine before the next batch. */
  private assignmentVersion = 0;
  private declaredVersion = 0;
  /** Stage 2: input partitions holding the watermark back, those of them stage 1 reported behind, the
   * highest source offset taken per input partition (stage 1 re-forwards after a crash: dropped), and the
   * next internal offset per assigned partition. */
  private readonly openSources = new Set<string>();
  private readonly behind = new Set<string>();
  /** Stage 2: input partitions stage 1 last reported read to their end, and those that had events since
   * the last time the internal topic was read to its end (the engine holds them open). */
  private readonly stageOneDone = new Set<string>();
  private readonly touched = new Set<string>();
  private readonly sourceSeen = new Map<string, number>();
  private readonly internalNext = new Map<number, number>();
  private lastReconcile = 0;
  /** Highest offset per partition already in the detector state: a consumer that restarts (a broker
   * outage) or re-fetches resumes from the last commit, and what is already held is not pushed twice. */
  private readonly processed = new Map<string, number>();
  /** Commits that failed (broker unavailable), retried with the next. */
  private readonly unacked = new Map<string, { topic: string; partition: number; offset: string; metadata?: string }>();
  /**
   * Per partition read again after a restart or a take-over: the state horizon its last commit was made
   * at (commit metadata) and the end of what is read again. An event in that range older than the
   * horizon was settled by the run that committed (processed in full context, or late): fed alone to a
   * fresh state it would only make partial sessions, so it is left out. Needed on the internal topic,
   * whose one partition interleaves input partitions at different event times, so that events older than
   * the horizon can follow the commit point.
   */
  private readonly replayFloor = new Map<string, { cutoff: number; end: number }>();
  private stopDeadline = Infinity;
  /** Stage 2: whether this instance owns the internal partition (the active correlator), and must start
   * afresh (read back the alerts, restore the state) before its next batch. */
  private owned = false;
  private takeOverDue = false;
  /** Wall time the clock knowledge was last written to the state topic. */
  private knowledgeWritten = 0;
  /** The findings mark last acknowledged in the state topic (LiveHunt.evaluatedClock). */
  private markWritten = -Infinity;
  /**
   * Sources the state restore replayed: they hold the watermark back (as far as each was replayed) until
   * the assignment tells which of them have more to read (declareBacklogs); closed at once, the restore
   * released everything the sources read furthest had passed, and the rest of a lagging one came late.
   */
  private readonly restoredOpen = new Set<string>();

  constructor(private readonly o: RunnerOptions) {
    this.kafka = new Kafka({ clientId: o.clientId ?? 'hoptrail-stream', brokers: o.brokers, logLevel: logLevel.NOTHING });
    this.consumer = this.kafka.consumer({
      groupId: o.group, maxBytes: 16 << 20, maxBytesPerPartition: 4 << 20,
      // A member that died (kill -9) holds its partitions until this passes: short, so a restart resumes soon.
      sessionTimeout: o.sessionTimeoutMs ?? 10_000, heartbeatInterval: 1000,
    });
    // Idempotent producer: its own retries never duplicate an alert.
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    this.live = new LiveHunt(o);
    this.horizonMs = o.horizonMs ?? defaultHorizonMs(o);
    this.stateTtlMs = o.stateTtlMs ?? o.keepMs ?? 24 * 3600_000;
    // The detectors get the events they use as objects; the sink gets all; the state topic their JSON.
    this.decoder = new DecodePool({
      threads: o.decodeThreads, minBatch: o.decodeMinBatch, maxBytes: o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      ship: { events: o.sink ? 'all' : 'used', json: o.stateTopic !== undefined }, knowledge: this.knowledge,
    });
  }

  /** Slices of batches decoded (ingest/kafka/workers.ts SLICE), and how many of them on worker threads. */
  decodeStats(): { slices: number; onWorkers: number } {
    return { ...this.decoder.stats };
  }

  /** Wall-time delays (ms) from a batch's arrival to the acknowledgement of the findings it caused. */
  delaySamples(): readonly number[] {
    return this.delays;
  }

  async start(): Promise<void> {
    const { o } = this;
    const admin = this.kafka.admin();
    await admin.connect();
    if (o.correlate) await ensureInternalTopic(this.kafka, o.topic);
    try {
      // Alerts are keyed by session or finding ID: compaction keeps the latest version of each.
      const topics = [
        ...(o.alertsTopic ? [{ topic: o.alertsTopic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] : []),
        ...(o.dlqTopic ? [{ topic: o.dlqTopic, numPartitions: 1 }] : []),
        // Keyed by source position (a replay overwrites); deleted by age beyond the TTL and the horizon.
        ...(o.stateTopic ? [{ topic: o.stateTopic, numPartitions: 1, configEntries: stateTopicConfig(this.stateTtlMs, this.horizonMs) }] : []),
      ];
      if (topics.length > 0) await admin.createTopics({ topics, waitForLeaders: true }).catch(() => false);
    } finally {
      await admin.disconnect();
    }
    // Stage 2 reads them back when it becomes the active correlator (takeOver), not before.
    if (o.alertsTopic && !o.correlate) o.log.info('alerts read back', { findings: await this.readBack(o.alertsTopic) });
    await this.producer.connect();
    if (o.stateTopic && !o.correlate) await this.restoreState(o.stateTopic);
    await this.consumer.connect();
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      const a = e.payload.memberAssignment;
      const now = new Set(Object.entries(a).flatMap(([t, ps]) => ps.map((p) => `${t}/${p}`)));
      for (const { topic, partitions } of this.assigned) {
        for (const p of partitions) {
          if (now.has(`${topic}/${p}`)) continue;
          this.book.forget(topic, p);
          this.metrics.dropLag(topic, p);
          this.processed.delete(`${topic}/${p}`);
          this.unacked.delete(`${topic}/${p}`);
        }
      }
      this.assigned = Object.entries(a).map(([topic, partitions]) => ({ topic, partitions }));
      this.assignmentVersion++;
      const owns = Object.values(a).some((ps) => ps.length > 0);
      if (owns && !this.owned) this.takeOverDue = true;
      this.owned = owns;
      o.log.info('assigned', { assignment: a });
    });
    // Stage 1 of a batch (decoding) starts as it arrives, so the partitions of a fetch are consumed
    // concurrently: workers decode the next batches while this thread detects on the one before.
    await runConsumer(this.consumer, o.topic, (p) => this.onBatch(p), o.log, () => this.stopping, '', o.correlate ? 1 : 8);
    this.timers.push(setInterval(() => void this.serial(() => this.tick()).catch((e: unknown) => o.log.error('tick failed', { error: String(e) })), 100));
    const every = o.metricsIntervalMs ?? 10_000;
    if (every > 0) this.timers.push(setInterval(() => o.log.info('metrics', { ...this.metrics.snapshot(), ...this.delayFigures(), engine: this.live.stats(), uncommitted: this.book.pending() }), every));
    for (const t of this.timers) t.unref();
    o.log.info('started', { brokers: o.brokers, topic: o.topic, group: o.group, alerts: o.alertsTopic, dlq: o.dlqTopic, horizon_s: this.horizonMs / 1000 });
  }

  /**
   * The alerts topic is the record of what earlier runs published: read back to its end, so a replay
   * republishes only what changed and retracts what an earlier run published and the replay disproves.
   */
  private async readBack(topic: string): Promise<number> {
    let n = 0;
    await this.readTopic(topic, (message) => {
      if (message.headers?.['hoptrail.kind']?.toString() === 'session') return;
      this.live.restore(message.key?.toString('utf8') ?? '', message.value === null ? null : message.value.toString('utf8'));
      n++;
    });
    return n;
  }

  /**
   * The state topic replayed into the detectors, in event time order, from the event time every source
   * reached less the TTL.
   * What it held is then marked processed, so the input (stage 2: the internal topic) resumes after it.
   * Alerts this produces were mostly published before: keyed, they overwrite themselves.
   */
  private async restoreState(topic: string): Promise<void> {
    const started = Date.now();
    // Keyed by source position: a record written twice (a send retried) counts once.
    const byKey = new Map<string, StateEvent>();
    let knowledge = 0;
    const marks = new Map<string, number>();
    await this.readTopic(topic, (message) => {
      const mark = readFindingsMark(message);
      if (mark) { marks.set(mark.source, mark.through); return; }
      const snap = readKnowledge(message);
      if (snap) { if (!this.o.correlate) { this.knowledge.merge(snap); knowledge++; } return; }
      const r = readInternal(message.headers, message.value);
      if (r.kind === 'event') byKey.set(`${r.source}/${r.offset}`, { source: r.source, offset: r.offset, t: Date.parse(r.event['@timestamp']), event: r.event });
    });
    this.knowledge.seal();
    const got = [...byKey.values()];
    // The TTL counts back from the event time every source reached (the least of their newest: a source
    // read ahead of the others must not expire what a lagging one still needs), or from the event time
    // up to which findings were published, if earlier (what came after was not judged yet).
    const { alerts, from, kept, seen } = replayState(this.live, got, marks, this.stateTtlMs);
    // Everything up to the newest restored offset per source was processed and acknowledged by the run
    // that wrote it (state records follow their batch's outputs): the input resumes after it.
    for (const [source, offset] of seen) {
      // Left open by the replay: a source behind the others must not be judged late on its next events.
      // The assignment frees those with nothing more to read (declareBacklogs).
      this.restoredOpen.add(source);
      if (this.o.correlate) this.sourceSeen.set(source, offset);
      else this.processed.set(source, offset);
    }
    if (kept > 0) this.heldSinceFlush = true;
    await this.publish(alerts, []);
    this.o.log.info('state restored', { events: kept, knowledge_records: knowledge, expired: got.length - kept, from: Number.isFinite(from) ? new Date(from).toISOString() : null, marks: marks.size, sources: Object.fromEntries(seen), ms: Date.now() - started });
  }

  private readTopic(topic: string, each: (m: KafkaMessage) => void): Promise<void> {
    return readToEnd(this.kafka, topic, this.o.group, each);
  }

  /** Graceful stop: the batch in hand finishes, what is due is published and committed, the group is left. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopDeadline = Date.now() + STOP_GRACE_MS;
    for (const t of this.timers) clearInterval(t);
    // No new batch starts; the one in hand finishes first (serial), then what is due is committed while
    // the group is still joined, then the group is left.
    if (this.assigned.length > 0) this.consumer.pause(this.assigned);
    await this.serial(async () => {
      const cutoff = this.cutoff();
      await this.publishFindings([...this.live.drain(), ...this.live.findings()], undefined, true);
      await this.commit(cutoff);
    });
    await this.consumer.disconnect();
    await this.o.sink?.close();
    await this.decoder.close();
    await this.producer.disconnect();
    this.o.log.info('stopped', { ...this.metrics.snapshot(), ...this.delayFigures() });
  }

  delayFigures(): { delay_p50_ms?: number; delay_p99_ms?: number } {
    if (this.delays.length === 0) return {};
    const s = [...this.delays].sort((a, b) => a - b);
    return { delay_p50_ms: s[Math.floor(s.length * 0.5)], delay_p99_ms: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] };
  }

  /** Batches, timer ticks and the stop run one at a time: the detectors are not re-entrant. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.chain.then(fn);
    this.chain = r.catch(() => undefined);
    return r;
  }

  private cutoff(): number {
    return this.live.eventClock - this.horizonMs;
  }

  /**
   * Partitions with a backlog hold the event-time watermark back until they catch up, so a partition
   * fetched later than another is not judged late; caught-up and empty ones hold nothing back.
   */
  private async declareBacklogs(): Promise<void> {
    if (this.declaredVersion === this.assignmentVersion) return;
    const version = this.assignmentVersion;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      if (this.o.correlate) {
        if (this.takeOverDue) await this.takeOver();
        await this.declareSources(admin);
        // Restored sources that declareSources did not keep open (stage 1 forwarded them to their end).
        for (const s of this.openSources) this.restoredOpen.delete(s);
        this.releaseRestored();
        this.declaredVersion = version;
        return;
      }
      for (const { topic, partitions } of this.assigned) {
        const { high, at } = await this.positions(admin, topic);
        for (const p of partitions) {
          const h = high.get(p);
          const from = Math.max(at.get(p) ?? -1, h?.low ?? 0);
          // After a consumer restart the state already holds what follows the last commit.
          const next = Math.max(from, (this.processed.get(`${topic}/${p}`) ?? -1) + 1);
          // A restored partition with more to read stays open at what it replayed; the others are freed.
          if (h && next < h.high) { this.live.openPartition(`${topic}/${p}`); this.restoredOpen.delete(`${topic}/${p}`); }
          else this.caughtUp.add(`${topic}/${p}`);
        }
      }
      this.releaseRestored();
      this.declaredVersion = version;
    } finally {
      await admin.disconnect();
    }
  }

  /** Restored sources no assignment holds open any more: they no longer hold the watermark back. */
  private releaseRestored(): void {
    for (const s of this.restoredOpen) this.live.closePartition(s);
    this.restoredOpen.clear();
  }

  /** The replay floor of each assigned partition of `topic` that is read again from its last commit. */
  /** A topic's partition ends and this group's committed offsets (its replay floors set from them). */
  private async positions(admin: Admin, topic: string): Promise<{ high: Map<number, { high: number; low: number }>; at: Map<number, number> }> {
    const high = new Map((await admin.fetchTopicOffsets(topic)).map((x) => [x.partition, { high: Number(x.high), low: Number(x.low) }]));
    const [committed] = await admin.fetchOffsets({ groupId: this.o.group, topics: [topic] });
    this.setFloors(topic, committed.partitions, high);
    return { high, at: new Map(committed.partitions.map((x) => [x.partition, Number(x.offset)])) };
  }

  private setFloors(topic: string, committed: { partition: number; metadata: string | null }[], high: Map<number, { high: number }>): void {
    // With a state topic the restored state gives such events their context: nothing is left out.
    if (this.o.stateTopic) return;
    for (const c of committed) {
      const label = `${topic}/${c.partition}`;
      // Only from a fresh state: a consumer restart in a running state skips what it holds anyway.
      if (this.processed.has(label)) continue;
      let cutoff = -Infinity;
      try {
        cutoff = Number((JSON.parse(c.metadata ?? '{}') as { cutoff?: unknown }).cutoff ?? -Infinity);
      } catch { /* not ours */ }
      const end = high.get(c.partition)?.high ?? 0;
      if (Number.isFinite(cutoff) && end > 0) this.replayFloor.set(label, { cutoff, end });
    }
  }

  /** Whether an event read again after a restart is older than the horizon its partition was committed at. */
  private belowFloor(label: string, offset: number, t: number): boolean {
    const f = this.replayFloor.get(label);
    return f !== undefined && offset < f.end && t < f.cutoff;
  }

  /**
   * Stage 2, on becoming the active correlator: a standby holds no state; one that was active before and
   * lost the partition holds stale state, dropped. Then, as a single-process runner does on start, the
   * alerts are read back and the state topic restored; the internal topic is read from the last commit.
   */
  private async takeOver(): Promise<void> {
    // Always from scratch (also when a first attempt failed half-way, e.g. the broker went away).
    this.live = new LiveHunt(this.o);
    this.book = new OffsetBook();
    for (const m of [this.sourceSeen, this.processed, this.internalNext, this.unacked, this.replayFloor]) m.clear();
    for (const x of [this.openSources, this.behind, this.stageOneDone, this.touched, this.restoredOpen]) x.clear();
    this.evaluatedCutoff = -Infinity;
    this.markWritten = -Infinity;
    this.heldSinceFlush = false;
    const { o } = this;
    if (o.alertsTopic) o.log.info('alerts read back', { findings: await this.readBack(o.alertsTopic) });
    if (o.stateTopic) await this.restoreState(o.stateTopic);
    this.takeOverDue = false;
  }

  /**
   * Stage 2, on assignment: every input partition that stage 1 has not forwarded to its end, or all of
   * them when the internal topic has a backlog (its records interleave sources at arbitrary event times),
   * holds the watermark back until a progress record or the reconciliation (reconcileSources) frees it.
   */
  private async declareSources(admin: Admin): Promise<void> {
    const c = this.o.correlate;
    if (!c || this.assigned.length === 0) return;
    let internalBacklog = false;
    for (const { topic, partitions } of this.assigned) {
      const { high, at } = await this.positions(admin, topic);
      for (const p of partitions) {
        const h = high.get(p);
        if (h && Math.max(at.get(p) ?? -1, h.low) < h.high) internalBacklog = true;
        else this.caughtUp.add(`${topic}/${p}`);
      }
    }
    const { ends, done } = await this.stageOne(admin);
    for (const [p] of ends) {
      const label = `${c.inputTopic}/${p}`;
      if (internalBacklog || !done.has(p)) this.openSource(label);
    }
    this.o.log.info('sources', { open: [...this.openSources], internal_backlog: internalBacklog });
  }

  /** Input partitions (and their ends) and those that stage 1 has forwarded and committed to their end. */
  private async stageOne(admin: Admin): Promise<{ ends: Map<number, number>; done: Set<number> }> {
    const c = this.o.correlate;
    if (!c) return { ends: new Map(), done: new Set() };
    const [committed] = await admin.fetchOffsets({ groupId: c.inputGroup, topics: [c.inputTopic] });
    const at = new Map(committed.partitions.map((x) => [x.partition, Number(x.offset)]));
    const ends = new Map<number, number>(), done = new Set<number>();
    for (const x of await admin.fetchTopicOffsets(c.inputTopic)) {
      ends.set(x.partition, Number(x.high));
      if (Math.max(at.get(x.partition) ?? -1, Number(x.low)) >= Number(x.high)) done.add(x.partition);
    }
    return { ends, done };
  }

  /** Stage 2, the internal topic read to its end: sources stage 1 reported read to their end are freed. */
  private closeCaughtUp(): void {
    for (const s of [...this.openSources, ...this.touched]) {
      if (this.behind.has(s) || !this.stageOneDone.has(s)) continue;
      this.closeSource(s);
      this.touched.delete(s);
    }
  }

  private openSource(label: string): void {
    this.openSources.add(label);
    this.live.openPartition(label);
  }

  private closeSource(label: string): void {
    this.openSources.delete(label);
    this.live.closePartition(label);
  }

  /**
   * Stage 2, read to the end of the internal topic: an open source that no progress record says is
   * behind (opened on assignment, its last progress record before the replayed range) is closed once
   * stage 1 has committed it to its end. Committed offsets are read before the internal topic's end, and
   * stage 1 commits only what the internal topic acknowledged, so everything it covers has been read.
   */
  private async reconcileSources(): Promise<void> {
    const c = this.o.correlate;
    if (!c || [...this.openSources].every((s) => this.behind.has(s))) return;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const { done } = await this.stageOne(admin);
      for (const { topic, partitions } of this.assigned) {
        const high = new Map((await admin.fetchTopicOffsets(topic)).map((x) => [x.partition, Number(x.high)]));
        if (partitions.some((p) => (this.internalNext.get(p) ?? 0) < (high.get(p) ?? 0))) return;
      }
      for (const label of [...this.openSources]) {
        if (this.behind.has(label)) continue;
        if (!done.has(Number(label.slice(label.lastIndexOf('/') + 1)))) continue;
        this.stageOneDone.add(label);
        this.closeSource(label);
      }
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * A batch is decoded (on workers, ahead) as it arrives, in arrival order; the rest of it (detectors,
   * outputs, commits) waits its turn behind the batches before it.
   */
  private onBatch(p: EachBatchPayload): Promise<void> {
    if (this.stopping) return Promise.resolve();
    if (this.o.correlate) return this.serial(() => this.handle(p, [], undefined));
    const { todo, decoded } = startDecoding(this.decoder, p.batch, this.processed);
    return this.serial(() => this.handle(p, todo, decoded));
  }

  private async handle({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload, todo: KafkaMessage[], decoding: Promise<DecodedBatch> | undefined): Promise<void> {
    if (this.stopping) return;
    await this.declareBacklogs();
    const label = `${batch.topic}/${batch.partition}`;
    const arrival = Date.now();
    this.lastMessage = arrival;
    this.evalArrival ??= arrival;
    const alerts: AlertRecord[] = [];
    const dlq: OutMessage[] = [];
    const events: NormalizedEvent[] = [];
    const state: Message[] = [];
    const done: string[] = [];
    const d = decoding ? await decoding : undefined;
    // Positions in the decoded batch: the next message of `todo`, reject reason, shipped event, JSON.
    let j = 0, nr = 0, ne = 0, nj = 0;
    const all = this.o.sink !== undefined;
    for (const m of batch.messages) {
      if (!isRunning() || isStale()) break;
      const from: MessageOrigin = { topic: batch.topic, partition: batch.partition, offset: m.offset };
      const i = todo[j] === m ? j++ : -1;
      if (Number(m.offset) <= (this.processed.get(label) ?? -1)) {
        if (d && i >= 0) { if (d.kinds[i] === REJECTED) nr++; else { if (all || d.kinds[i] === USED) ne++; if (d.kinds[i] === USED && this.o.stateTopic) nj++; } }
        done.push(m.offset);
        continue;
      }
      this.processed.set(label, Number(m.offset));
      if (this.o.correlate) {
        this.fromInternal(m, from, dlq, alerts, state);
        done.push(m.offset);
        continue;
      }
      if (!d || i < 0) throw new Error(`stream: message ${label}/${m.offset} was not decoded`);
      const kind = d.kinds[i];
      if (kind === REJECTED) {
        this.metrics.rejects++;
        dlq.push(dlqMessage(from, m.value, d.reasons[nr++]));
        this.book.add(batch.topic, batch.partition, Number(m.offset), -Infinity);
        done.push(m.offset);
        continue;
      }
      this.metrics.events++;
      const event = all || kind === USED ? d.events[ne++] : undefined;
      const json = kind === USED && this.o.stateTopic ? d.json[nj++] : undefined;
      if (all) events.push(event!);
      if (kind !== USED) {
        // Nothing the detectors hold depends on it (detectors/uses.ts): done once its outputs are acked.
        this.book.add(batch.topic, batch.partition, Number(m.offset), -Infinity);
      } else {
        const t = Date.parse(event!['@timestamp']);
        if (this.belowFloor(label, Number(m.offset), t)) {
          // Settled before the restart (replayFloor); indexed again (the crash may have come first).
          this.book.add(batch.topic, batch.partition, Number(m.offset), -Infinity);
        } else {
          for (const a of this.live.push(event!, label)) alerts.push(a);
          if (json !== undefined) state.push(eventMessage({ json }, label, m.offset));
          this.book.add(batch.topic, batch.partition, Number(m.offset), t);
          this.heldSinceFlush = true;
        }
      }
      done.push(m.offset);
    }
    const last = done.at(-1);
    if (last !== undefined) {
      const lag = Math.max(0, Number(batch.highWatermark) - Number(last) - 1);
      this.metrics.setLag(batch.topic, batch.partition, lag);
      this.internalNext.set(batch.partition, Number(last) + 1);
      // Stage 2: the internal partition is no source of the watermark; the input partitions are.
      if (lag === 0) { if (this.o.correlate) this.closeCaughtUp(); else this.live.closePartition(label); this.caughtUp.add(label); }
      else this.caughtUp.delete(label);
    }
    // Kept with the batch's events (refreshed before the topic's retention could delete it).
    if (this.o.stateTopic && !this.o.correlate && (this.decoder.tracker.taught || Date.now() - this.knowledgeWritten > (this.stateTtlMs + this.horizonMs) / 3)) {
      this.decoder.tracker.taught = false;
      this.knowledgeWritten = Date.now();
      state.push(knowledgeMessage(label, this.knowledge.snapshot()));
    }
    for (const a of this.live.drain()) alerts.push(a);
    let ref: number | undefined, evaluated: number | undefined;
    if (arrival - this.lastFindings >= (this.o.findingsIntervalMs ?? 250)) {
      this.lastFindings = arrival;
      ref = this.evalArrival;
      this.evalArrival = undefined;
      evaluated = this.cutoff();
      for (const a of this.live.findings()) alerts.push(a);
    }
    // After the batch's events: a mark is acknowledged only with everything before it.
    const mark = this.findingsMark(state);
    await this.publish(alerts, dlq, events, ref, state);
    this.markWritten = mark;
    if (evaluated !== undefined) this.evaluatedCutoff = evaluated;
    // Only the newest resolved offset counts (kafkajs keeps one per partition): one call, not one per message.
    const resolved = done.at(-1);
    if (resolved !== undefined) resolveOffset(resolved);
    // Committing is a round trip: at most every 500 ms (a crash replays a little more, nothing is lost).
    if (arrival - this.lastCommit >= 500) await this.commit(this.evaluatedCutoff);
    await heartbeat();
  }

  /** Stage 2: one internal record (an event forwarded by stage 1, or stage 1's progress on a source). */
  private fromInternal(m: KafkaMessage, from: MessageOrigin, dlq: OutMessage[], alerts: AlertRecord[], state: Message[]): void {
    const r = readInternal(m.headers, m.value);
    if (r.kind === 'bad') {
      this.metrics.rejects++;
      dlq.push(dlqMessage(from, m.value, r.reason));
      this.book.add(from.topic, from.partition, Number(from.offset), -Infinity);
    } else if (r.kind === 'progress') {
      const { source, through, high } = r.progress;
      // Like lag in the single-process runner: behind holds the watermark back. Caught up frees it only
      // once the internal topic is read to its end too (closeCaughtUp): in a backlog read after a
      // take-over, a record saying "caught up" is history, and more of that partition's past follows.
      if (through + 1 >= high) { this.behind.delete(source); this.stageOneDone.add(source); }
      else { this.behind.add(source); this.stageOneDone.delete(source); this.openSource(source); }
      this.book.add(from.topic, from.partition, Number(from.offset), -Infinity);
    } else if (r.offset <= (this.sourceSeen.get(r.source) ?? -1) || this.belowFloor(`${from.topic}/${from.partition}`, Number(from.offset), Date.parse(r.event['@timestamp']))) {
      // Re-forwarded by a stage-1 instance that took over the partition from an uncommitted point.
      this.book.add(from.topic, from.partition, Number(from.offset), -Infinity);
    } else {
      this.sourceSeen.set(r.source, r.offset);
      // Events are indexed by stage 1; this stage's sink gets sessions and findings.
      this.metrics.events++;
      for (const a of this.live.push(r.event, r.source)) alerts.push(a);
      this.touched.add(r.source);
      if (this.o.stateTopic) state.push({ key: `${r.source}/${r.offset}`, value: m.value, headers: m.headers });
      this.book.add(from.topic, from.partition, Number(from.offset), Date.parse(r.event['@timestamp']));
      this.heldSinceFlush = true;
    }
  }

  /** Timer: findings due without new messages, and the idle flush. */
  private async tick(): Promise<void> {
    if (this.stopping) return;
    const now = Date.now();
    // A re-join without new messages (a consumer restarted after a broker outage) is declared here.
    if (this.declaredVersion !== this.assignmentVersion && this.assigned.length > 0) await this.declareBacklogs();
    const idle = this.o.idleFlushMs ?? 0;
    // Idle means read to the end, not just quiet: a rebalance or a slow fetch is no end of input.
    const allRead = this.declaredVersion === this.assignmentVersion && this.assigned.every(({ topic, partitions }) => partitions.every((p) => this.caughtUp.has(`${topic}/${p}`)));
    // Stage 2: sources left open although the internal topic is read to its end are checked (at most 1/s).
    if (this.o.correlate && allRead && this.openSources.size > 0 && now - this.lastReconcile >= 1000) {
      this.lastReconcile = now;
      await this.reconcileSources();
    }
    // Stage 2: idle also needs stage 1 to have forwarded every input partition to its end.
    if (idle > 0 && this.heldSinceFlush && allRead && this.openSources.size === 0 && now - this.lastMessage >= idle) {
      this.heldSinceFlush = false;
      this.o.log.info('idle: releasing held state', { idle_ms: now - this.lastMessage });
      await this.publishFindings(this.live.flush(), undefined, true);
      // Everything processed has produced all it can: all of it may be committed.
      await this.commit(Infinity);
      return;
    }
    const drained = this.live.drain();
    if (drained.length > 0) await this.publish(drained, []);
    if (now - this.lastFindings >= (this.o.findingsIntervalMs ?? 250)) {
      this.lastFindings = now;
      const ref = this.evalArrival;
      this.evalArrival = undefined;
      const cutoff = this.cutoff();
      await this.publishFindings(this.live.findings(), ref, false);
      this.evaluatedCutoff = cutoff;
      await this.commit(cutoff);
    }
  }

  /**
   * Publishes alerts with the findings mark they complete (findingsMark), remembered once acknowledged;
   * with nothing to send, publishes only when `whenEmpty` (publish also resumes paused partitions).
   */
  private async publishFindings(alerts: readonly AlertRecord[], ref: number | undefined, whenEmpty: boolean): Promise<void> {
    const marks: Message[] = [];
    const mark = this.findingsMark(marks);
    if (whenEmpty || alerts.length > 0 || marks.length > 0) await this.publish(alerts, [], [], ref, marks);
    this.markWritten = mark;
  }

  /**
   * With a state topic: when findings were evaluated further than the last mark, a mark per source held
   * (`findings/<source>`, internal.ts) is appended to `state`, which publish() sends after the alerts.
   * Returns the mark to remember once that publish is acknowledged (the last one when none is due).
   */
  private findingsMark(state: Message[]): number {
    const through = this.live.evaluatedClock;
    if (!this.o.stateTopic || !Number.isFinite(through) || through <= this.markWritten) return this.markWritten;
    // Stage 2: the input partitions (sources of its events); single process: the partitions read.
    const sources = [...(this.o.correlate ? this.sourceSeen : this.processed).keys()];
    for (const source of sources) state.push(findingsMarkMessage(source, through));
    return sources.length > 0 ? through : this.markWritten;
  }

  private async publish(alerts: readonly AlertRecord[], dlq: readonly OutMessage[], events: readonly NormalizedEvent[] = [], ref?: number, state: Message[] = []): Promise<void> {
    const { o } = this;
    const topicMessages: { topic: string; messages: Message[] }[] = [];
    if (o.alertsTopic && alerts.length > 0) {
      topicMessages.push({
        topic: o.alertsTopic,
        messages: alerts.map((a) => ({ key: a.key, value: a.value === null ? null : JSON.stringify(a.value), headers: { 'hoptrail.kind': a.kind } })),
      });
    }
    if (o.dlqTopic && dlq.length > 0) topicMessages.push({ topic: o.dlqTopic, messages: dlq.map((d) => ({ key: d.key, value: d.value, headers: d.headers })) });
    const started = Date.now();
    const slow = setTimeout(() => this.pauseAll(true), o.slowSinkMs ?? 1000);
    try {
      for (const chunk of chunks(topicMessages)) await this.retry('send', () => this.producer.sendBatch({ topicMessages: chunk, acks: -1 }));
      if (o.sink && (events.length > 0 || alerts.length > 0)) {
        await o.sink.write(events, alerts);
        await o.sink.flush();
      }
      // Last: a state record means everything its batch produced is acknowledged (restoreState).
      if (o.stateTopic && state.length > 0) {
        for (const chunk of chunks([{ topic: o.stateTopic, messages: state }])) await this.retry('state', () => this.producer.sendBatch({ topicMessages: chunk, acks: -1 }));
      }
    } finally {
      clearTimeout(slow);
      this.pauseAll(false);
    }
    for (const a of alerts) {
      if (a.kind === 'session') this.metrics.sessions++;
      else if (a.kind === 'finding') this.metrics.findings++;
      else this.metrics.retractions++;
    }
    if (ref !== undefined && alerts.some((a) => a.kind === 'finding')) {
      this.delays.push(Date.now() - ref);
      if (this.delays.length > 10_000) this.delays.splice(0, 5_000);
    }
    if (Date.now() - started > 5000) o.log.warn('slow sink', { ms: Date.now() - started });
  }

  private pauseAll(on: boolean): void {
    if (this.assigned.length === 0 || this.stopping) return;
    if (on) {
      this.consumer.pause(this.assigned);
      this.metrics.paused = this.assigned.reduce((n, a) => n + a.partitions.length, 0);
      this.o.log.warn('sinks lag: partitions paused', { paused: this.metrics.paused });
    } else if (this.metrics.paused > 0) {
      this.consumer.resume(this.assigned);
      this.metrics.paused = 0;
    }
  }

  private retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return untilDone(what, fn, this.o.log, () => Date.now() > this.stopDeadline);
  }

  private async commit(cutoff: number): Promise<void> {
    this.lastCommit = Date.now();
    // The horizon travels with the commit (replayFloor); an idle flush's (everything final) sets none.
    const metadata = Number.isFinite(cutoff) ? JSON.stringify({ cutoff }) : undefined;
    for (const d of this.book.due(cutoff)) this.unacked.set(`${d.topic}/${d.partition}`, { ...d, ...(metadata ? { metadata } : {}) });
    if (this.unacked.size === 0) return;
    const due = [...this.unacked.values()];
    try {
      await this.consumer.commitOffsets(due);
    } catch (e) {
      // Broker unavailable or a rebalance: kept for the next commit (a crash meanwhile replays more).
      this.o.log.warn('commit failed', { error: String(e) });
      return;
    }
    for (const d of due) if (this.unacked.get(`${d.topic}/${d.partition}`) === d) this.unacked.delete(`${d.topic}/${d.partition}`);
    this.metrics.commits++;
    this.o.log.debug('committed', { offsets: due });
  }
}
