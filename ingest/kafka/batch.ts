// A batch of messages decoded in two passes, the same on the consumer's thread and on a decoding worker
// (ingest/kafka/workers.ts): read every message and note what it teaches (into a knowledge delta of its
// own), then, once the deltas of this and every earlier batch are merged, normalize. So a batch is
// normalized with what batches 0..k taught, whichever thread did it and however the batch was cut.
import { detectorsUse } from '../../detectors/uses.js';
import type { NormalizedEvent } from '../../schemas/event.js';
import { ClockKnowledge, type KnowledgeSnapshot } from '../normalize/clock.js';
import type { Normalizer } from '../normalize/index.js';
import { canonicalChannel } from '../normalize/extract.js';
import { learnFrom, normalizeParsed, parseMessage, provenance, type Parsed } from './decode.js';
import { eventJson } from './internal.js';
import { neverUsed } from './unused.js';

/**
 * What a decoded batch carries back: every event as an object (an Elasticsearch sink indexes them all),
 * or only those the detectors use (without `message`: nothing after normalization reads it); and the
 * used ones as internal-topic JSON (stage 1, the state topic).
 */
export interface Ship { events: 'all' | 'used' | 'none'; json: boolean }

export const REJECTED = 0, UNUSED = 1, USED = 2;

export interface DecodedBatch {
  /** Per message: REJECTED, UNUSED (an event the detectors do not use) or USED. */
  kinds: Uint8Array;
  /** Per rejected message, in order. */
  reasons: string[];
  /** Per shipped event (Ship.events), in order. */
  events: NormalizedEvent[];
  /** Per used event, in order (Ship.json). */
  json: string[];
}

/** The first pass's outcome: what the batch's messages taught (a delta), and hints for persisting it. */
export interface Learned {
  delta: KnowledgeSnapshot;
  /** Lower-case computer names seen (distinct), and whether a Sysmon record had a non-UTC time. */
  computers: string[];
  clock: boolean;
}

/**
 * Reads a chunk and learns from it. With `ship` (what normalizeChunk will be asked for), the records of
 * events nobody will use (no sink takes every event, and neverUsed) are read only as far as the learning
 * needs: their data is not flattened (normalizeChunk only checks them).
 */
export function parseChunk(values: readonly (Uint8Array | null)[], topic: string, maxBytes: number, ship?: Ship): { parsed: Parsed[]; learned: Learned } {
  const delta = new ClockKnowledge();
  const computers = new Set<string>();
  let clock = false;
  const lean = ship !== undefined && ship.events !== 'all';
  const parsed = values.map((v) => {
    const p = parseMessage(v, topic, maxBytes, lean);
    if (p.ok) {
      const t = learnFrom(p, topic, delta);
      computers.add(t.computer);
      clock ||= t.clock;
    }
    return p;
  });
  return { parsed, learned: { delta: delta.snapshot(), computers: [...computers], clock } };
}

export function normalizeChunk(normalizer: Normalizer, parsed: readonly Parsed[], topic: string, partition: number, offsets: readonly string[], ship: Ship): DecodedBatch {
  const kinds = new Uint8Array(parsed.length);
  const out: DecodedBatch = { kinds, reasons: [], events: [], json: [] };
  // Without a sink for every event, one nobody uses is only checked: its event is never built.
  const checkOnly = ship.events !== 'all';
  for (let i = 0; i < parsed.length; i++) {
    const p = parsed[i];
    if (checkOnly && p.ok && typeof p.record.channel === 'string' && neverUsed(canonicalChannel(p.record.channel), p.record.event_id)) {
      const why = normalizer.check(p.record, provenance(p.format, topic, partition, offsets[i]));
      if (why === undefined) kinds[i] = UNUSED;
      else { kinds[i] = REJECTED; out.reasons.push(`schema: ${why}`); }
      continue;
    }
    if (p.ok && p.partial) throw new Error('normalizeChunk: a record read partially (parseChunk was given another ship)');
    const d = normalizeParsed(normalizer, p, { topic, partition, offset: offsets[i] });
    if (!d.ok) { kinds[i] = REJECTED; out.reasons.push(d.reason); continue; }
    const used = detectorsUse(d.event);
    kinds[i] = used ? USED : UNUSED;
    if (ship.events === 'all') out.events.push(d.event);
    const lean = used && (ship.events === 'used' || ship.json) ? (d.event.message === undefined ? d.event : { ...d.event, message: undefined }) : undefined;
    if (lean && ship.events === 'used') out.events.push(lean);
    if (lean && ship.json) out.json.push(eventJson(lean));
  }
  return out;
}

/** Chunks of one batch, in order, as one. */
export function joinBatches(parts: DecodedBatch[]): DecodedBatch {
  if (parts.length === 1) return parts[0];
  const kinds = new Uint8Array(parts.reduce((n, p) => n + p.kinds.length, 0));
  let at = 0;
  for (const p of parts) { kinds.set(p.kinds, at); at += p.kinds.length; }
  return { kinds, reasons: parts.flatMap((p) => p.reasons), events: parts.flatMap((p) => p.events), json: parts.flatMap((p) => p.json) };
}

/** The deltas of a batch's chunks, in chunk order, as one delta (the first FQDN of the batch wins). */
export function joinDeltas(ls: readonly Learned[]): KnowledgeSnapshot {
  if (ls.length === 1) return ls[0].delta;
  const k = new ClockKnowledge();
  for (const l of ls) k.merge(l.delta);
  return k.snapshot();
}
