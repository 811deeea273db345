// The internal topic of the two-stage topology (README: scale-out). Stage 1 (every instance, the input
// topic's consumer group) decodes and normalizes, and forwards the events the correlation can use; stage 2
// (one consumer of the internal topic) runs the live hunt on them. Two record kinds, told apart by the
// header `hoptrail.kind`:
//   event     value: the normalized event as JSON (without `message`: nothing after normalization reads
//             it); headers `hoptrail.source` = input `topic/partition`, `hoptrail.source.offset`.
//   progress  sent after each stage-1 batch: input partition `hoptrail.source` was processed through
//             offset `through` while its end was `high` (value JSON). Stage 2 uses it as the single-process
//             runner uses lag: a source behind holds the event-time watermark back, one caught up does not.
import type { Kafka, KafkaMessage, Message } from 'kafkajs';
import type { KnowledgeSnapshot } from '../normalize/clock.js';
import type { NormalizedEvent } from '../../schemas/event.js';
import { detectorsUse } from '../../detectors/uses.js';
import type { AlertRecord, LiveHunt } from '../../detectors/live.js';

/** What stage 1 forwards: every event the detectors use (detectors/uses.ts), and nothing else. */
export const needsCorrelation = detectorsUse;

export interface Progress { source: string; through: number; high: number }

export type InternalRecord =
  | { kind: 'event'; source: string; offset: number; event: NormalizedEvent }
  | { kind: 'progress'; progress: Progress }
  | { kind: 'bad'; reason: string };

/** An event's internal-topic value: its JSON without `message`. */
export function eventJson(e: NormalizedEvent): string {
  return JSON.stringify(e.message === undefined ? e : { ...e, message: undefined });
}

/** An event record; `json` is the value eventJson() made (on a decoding worker, say). */
export function eventMessage(e: NormalizedEvent | { json: string }, source: string, offset: string): Message {
  const value = 'json' in e && typeof e.json === 'string' ? e.json : eventJson(e as NormalizedEvent);
  return { key: `${source}/${offset}`, value, headers: { 'hoptrail.kind': 'event', 'hoptrail.source': source, 'hoptrail.source.offset': offset } };
}

export function progressMessage(p: Progress): Message {
  return { key: p.source, value: JSON.stringify({ through: p.through, high: p.high }), headers: { 'hoptrail.kind': 'progress', 'hoptrail.source': p.source } };
}

function header(h: Message['headers'], name: string): string | undefined {
  const v = h?.[name];
  if (v === undefined) return undefined;
  const x = Array.isArray(v) ? v[0] : v;
  return Buffer.isBuffer(x) ? x.toString('utf8') : x === undefined ? undefined : String(x);
}

export function readInternal(headers: Message['headers'], value: Buffer | null): InternalRecord {
  const kind = header(headers, 'hoptrail.kind'), source = header(headers, 'hoptrail.source');
  if (!source || value === null) return { kind: 'bad', reason: 'internal: no source or no value' };
  try {
    if (kind === 'progress') {
      const p = JSON.parse(value.toString('utf8')) as { through?: unknown; high?: unknown };
      if (typeof p.through !== 'number' || typeof p.high !== 'number') return { kind: 'bad', reason: 'internal: progress without offsets' };
      return { kind: 'progress', progress: { source, through: p.through, high: p.high } };
    }
    if (kind === 'event') {
      const offset = Number(header(headers, 'hoptrail.source.offset'));
      if (!Number.isInteger(offset)) return { kind: 'bad', reason: 'internal: event without source offset' };
      return { kind: 'event', source, offset, event: JSON.parse(value.toString('utf8')) as NormalizedEvent };
    }
  } catch (e) {
    return { kind: 'bad', reason: `internal: not JSON: ${(e as Error).message}` };
  }
  return { kind: 'bad', reason: `internal: unknown kind ${kind ?? '(none)'}` };
}

/** Creates the internal topic with one partition, or checks that an existing one has exactly one. */
export async function ensureInternalTopic(kafka: Kafka, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    // Created here or by another instance starting at the same moment: its metadata may lag a little.
    let n = 0;
    for (let attempt = 0; ; attempt++) {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }).catch(() => false);
      try {
        n = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]?.partitions.length ?? 0;
        break;
      } catch (e) {
        if (attempt >= 40) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    // One partition: every half-session meets every candidate other half (README: why one partition).
    if (n !== 1) throw new Error(`internal topic ${topic} has ${n} partitions; it must have exactly 1`);
  } finally {
    await admin.disconnect();
  }
}

/**
 * The clock and FQDN knowledge learned online, kept in the state topic keyed by the input partition whose
 * batch taught it (`knowledge/topic/partition`); the value is the whole snapshot of the instance that
 * wrote it. On start every such record is merged (samples add up, the first FQDN wins), so instances
 * that each learned from their own partitions all contribute.
 */
export function knowledgeMessage(source: string, snap: KnowledgeSnapshot): Message {
  return { key: `knowledge/${source}`, value: JSON.stringify(snap), headers: { 'hoptrail.kind': 'knowledge' } };
}

export function readKnowledge(m: KafkaMessage): KnowledgeSnapshot | undefined {
  if (m.value === null || !(m.key?.toString('utf8') ?? '').startsWith('knowledge/')) return undefined;
  try {
    const v = JSON.parse(m.value.toString('utf8')) as KnowledgeSnapshot;
    return Array.isArray(v.byHost) && Array.isArray(v.byFile) && Array.isArray(v.fqdn) ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * How far findings were evaluated (LiveHunt.evaluatedClock), kept in the state topic once the alerts of
 * that evaluation were acknowledged, under `findings/<source>` for each source the evaluating instance
 * holds: compaction keeps the newest per source, and an instance writes only for its own sources.
 */
export function findingsMarkMessage(source: string, through: number): Message {
  return { key: `findings/${source}`, value: JSON.stringify({ through }), headers: { 'hoptrail.kind': 'findings' } };
}

/** A findings mark's source and event time, or undefined for any other record. */
export function readFindingsMark(m: { key: Buffer | null; value: Buffer | null; headers?: Message['headers'] }): { source: string; through: number } | undefined {
  const key = m.key?.toString('utf8') ?? '';
  if (m.value === null || !key.startsWith('findings/') || header(m.headers, 'hoptrail.kind') !== 'findings') return undefined;
  try {
    const through = (JSON.parse(m.value.toString('utf8')) as { through?: unknown }).through;
    return typeof through === 'number' && Number.isFinite(through) ? { source: key.slice('findings/'.length), through } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The event time from which a restore replays the state topic: the TTL counted back from the event time
 * every source reached (the least of their newest), and from the event time up to which findings were
 * evaluated and published (the least mark), whichever is earlier. Events between the mark and the newest
 * were pushed, and may have had their offsets committed, without any published evaluation judging them:
 * counted from the newest, the TTL would expire the sessions they feed, and their findings would be left
 * as last published (a command finding without its session). Without marks (a topic written before
 * them), the TTL counts from the newest only.
 */
export function stateReplayFrom(events: Iterable<{ source: string; t: number }>, marks: ReadonlyMap<string, number>, ttlMs: number): number {
  const newest = new Map<string, number>();
  for (const g of events) if (g.t > (newest.get(g.source) ?? -Infinity)) newest.set(g.source, g.t);
  if (newest.size === 0) return -Infinity;
  let from = Math.min(...newest.values());
  for (const t of marks.values()) if (t < from) from = t;
  return from - ttlMs;
}

/** An event record of the state topic, read back. */
export interface StateEvent { source: string; offset: number; t: number; event: NormalizedEvent }

/**
 * The state topic's events replayed into a fresh live hunt, in event-time order, from stateReplayFrom.
 * Every replayed source is left open, holding the watermark back at the newest event replayed from it:
 * the caller closes those that have nothing more to read. Closed here, the watermark jumped to the
 * source read furthest, and the events a lagging source still had to deliver came after the sessions
 * they belong to had been closed on idle (a restored session missing commands). Returns what the replay
 * released, where it started, how many events it kept, and the newest offset per source (expired records
 * included: they were processed, and must not be fed again from the input).
 */
export function replayState(live: LiveHunt, got: readonly StateEvent[], marks: ReadonlyMap<string, number>, ttlMs: number): { alerts: AlertRecord[]; from: number; kept: number; seen: Map<string, number> } {
  const from = stateReplayFrom(got, marks, ttlMs);
  const keep = got.filter((g) => g.t >= from).sort((a, b) => a.t - b.t || (a.source < b.source ? -1 : a.source > b.source ? 1 : a.offset - b.offset));
  const alerts: AlertRecord[] = [];
  for (const g of keep) for (const a of live.push(g.event, g.source)) alerts.push(a);
  const seen = new Map<string, number>();
  for (const g of got) if (g.offset > (seen.get(g.source) ?? -1)) seen.set(g.source, g.offset);
  for (const a of live.drain()) alerts.push(a);
  for (const a of live.findings()) alerts.push(a);
  return { alerts, from, kept: keep.length, seen };
}

/** The state topic's settings: compacted (a record rewritten is kept once) and deleted by age. */
export function stateTopicConfig(ttlMs: number, horizonMs: number): { name: string; value: string }[] {
  return [
    { name: 'cleanup.policy', value: 'compact,delete' },
    { name: 'retention.ms', value: String(ttlMs + horizonMs) },
    { name: 'segment.ms', value: String(Math.max(60_000, Math.floor(ttlMs / 4))) },
  ];
}

/** Reads a topic from its beginning to its end as of the call (a throw-away consumer group). */
export async function readToEnd(kafka: Kafka, topic: string, group: string, each: (m: KafkaMessage) => void): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, number>;
  try {
    ends = new Map((await admin.fetchTopicOffsets(topic)).map((x) => [x.partition, Number(x.high)]));
  } finally {
    await admin.disconnect();
  }
  const todo = new Set([...ends].filter(([, high]) => high > 0).map(([p]) => p));
  if (todo.size === 0) return;
  const reader = kafka.consumer({ groupId: `${group}.readback.${process.pid}.${Date.now()}` });
  await reader.connect();
  try {
    await reader.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      reader.run({
        eachMessage: async ({ partition, message }) => {
          each(message);
          if (Number(message.offset) + 1 >= (ends.get(partition) ?? 0)) todo.delete(partition);
          if (todo.size === 0) resolve();
        },
      }).catch(reject);
    });
  } finally {
    await reader.disconnect();
  }
}
