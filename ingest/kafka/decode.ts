// One Kafka message value to a normalized event, or the reason it cannot be one (for the dead-letter
// topic). Pure: the format is detected per message, and clocks and host names are learned as messages
// arrive (a stream has no first pass over its input, unlike a file hunt).
// Two steps, so a batch can be cut between threads (ingest/kafka/workers.ts): parse() reads a message
// and learn() notes what it teaches, then normalize() uses what the batches so far have taught.
import { isAscii } from 'node:buffer';
import type { NormalizedEvent, Provenance } from '../../schemas/event.js';
import { adapt, type JsonFormat } from '../json/detect.js';
import { canonicalChannel } from '../normalize/extract.js';
import type { ClockKnowledge, Normalizer, SourceRecord } from '../normalize/index.js';
import { neverUsed } from './unused.js';

export interface MessageOrigin {
  topic: string;
  partition: number;
  offset: string;
}

export type Decoded = { ok: true; event: NormalizedEvent } | { ok: false; reason: string };

/**
 * A message read and recognized (not yet normalized), or the reason it cannot be used. `partial`: a record
 * of an event nobody uses (neverUsed), whose data holds only what the clock learning reads (Sysmon's
 * UtcTime): it can be checked (Normalizer.check), not normalized.
 */
export type Parsed = { ok: true; record: SourceRecord; format: JsonFormat; partial?: boolean } | { ok: false; reason: string };

/** Messages larger than this go to the dead-letter topic unread. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1 << 20;

/** Where latin1Text() writes the Latin-1 bytes of a message (grown to the largest message seen). */
let narrow = Buffer.allocUnsafeSlow(1 << 16);

/**
 * The text of UTF-8 bytes whose characters are all U+0000..U+00FF, made as Latin-1 (one byte a character:
 * a copy, not a decode); undefined when another character (or bytes that are not UTF-8) occurs. Such
 * text is the string `toString('utf8')` gives, whose decode cost bench/stream's Export-WinEvents messages
 * with a `®` (a quarter of them) more than their JSON parse.
 */
export function latin1Text(b: Buffer): string | undefined {
  // U+0080..U+00FF are C2 80..C3 BF: each pair becomes its one byte, the runs between move down over the
  // bytes saved (in place, in a copy of the message).
  let c2 = b.indexOf(0xc2), c3 = b.indexOf(0xc3);
  if (c2 < 0 && c3 < 0) return undefined;
  if (narrow.length < b.length) narrow = Buffer.allocUnsafeSlow(Math.max(b.length, 2 * narrow.length));
  narrow.set(b);
  let from = 0, to = 0;
  while (c2 >= 0 || c3 >= 0) {
    const at = c3 < 0 || (c2 >= 0 && c2 < c3) ? c2 : c3;
    const next = b[at + 1];
    if (!(next >= 0x80 && next <= 0xbf)) return undefined;
    if (to !== from && at > from) narrow.copyWithin(to, from, at);
    to += at - from;
    narrow[to++] = ((b[at] & 0x03) << 6) | (next & 0x3f);
    from = at + 2;
    if (at === c2) c2 = b.indexOf(0xc2, from);
    else c3 = b.indexOf(0xc3, from);
  }
  if (from < b.length) narrow.copyWithin(to, from, b.length);
  to += b.length - from;
  const s = narrow.toString('latin1', 0, to);
  // Any other byte above 0x7F was copied as is: it is a character above U+007F that UTF-8 writes in two
  // bytes, so the text's UTF-8 length exceeds the message's. Equal lengths: the bytes are its UTF-8.
  return Buffer.byteLength(s, 'utf8') === b.length ? s : undefined;
}

let partial = false;
const skipData = (channel: string, id: number): boolean => (partial = neverUsed(canonicalChannel(channel), id));

/**
 * JSON parse and format detection of one message value: no knowledge needed. `lean`: the event will be
 * used only if the detectors use it (no sink takes every event): a record of an event they cannot use is
 * read partially (Parsed).
 */
export function parseMessage(value: Uint8Array | null, topic: string, maxBytes: number, lean = false): Parsed {
  if (value === null || value.length === 0) return { ok: false, reason: 'empty message' };
  if (value.length > maxBytes) return { ok: false, reason: `oversized: ${value.length} bytes > ${maxBytes}` };
  let v: unknown;
  try {
    // ASCII (most collector JSON: non-ASCII text comes \u-escaped) is its own Latin-1: a copy, not a decode.
    const b = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    v = JSON.parse(isAscii(b) ? b.toString('latin1') : latin1Text(b) ?? b.toString('utf8'));
  } catch (e) {
    return { ok: false, reason: `not JSON: ${(e as Error).message}` };
  }
  partial = false;
  const a = adapt(v, undefined, topic, lean ? skipData : undefined);
  if ('reason' in a) return { ok: false, reason: a.reason };
  return partial ? { ok: true, record: a.record, format: a.format, partial } : { ok: true, record: a.record, format: a.format };
}

/**
 * What a message teaches: Sysmon UtcTime samples and FQDNs, for the clock repair of later messages on the
 * same host. The "source" of a sample is the host's collector, not the topic: a topic mixes hosts and
 * sites. Returns the lower-case computer name and whether it was a Sysmon record with a non-UTC time.
 */
export function learnFrom(p: Parsed & { ok: true }, topic: string, into: ClockKnowledge): { computer: string; clock: boolean } {
  const computer = p.record.computer.trim().toLowerCase();
  into.observe(p.record, `${topic}|${computer}`, computer);
  return { computer, clock: (p.record.time_kind ?? 'utc') !== 'utc' && p.record.provider === 'Microsoft-Windows-Sysmon' };
}

export function provenance(format: JsonFormat, topic: string, partition: number, offset: string): Provenance {
  return { format, kafka: { topic, partition, offset: Number(offset) } };
}

export function normalizeParsed(normalizer: Normalizer, p: Parsed, from: MessageOrigin): Decoded {
  if (!p.ok) return p;
  const r = normalizer.normalize(p.record, provenance(p.format, from.topic, from.partition, from.offset));
  return r.ok ? { ok: true, event: r.event } : { ok: false, reason: `schema: ${r.reason}` };
}

/** Whether the knowledge may have learned something (state topic): over-approximated, bounded. */
export class TaughtTracker {
  /** Set when a message may have taught the clock knowledge something: a new host name, or a Sysmon
   * record with a non-UTC time. The runner then persists the knowledge (state topic) and clears it. */
  taught = false;
  private readonly computers = new Set<string>();

  note(computer: string, clock: boolean): void {
    if (!this.computers.has(computer) && this.computers.size < 100_000) { this.computers.add(computer); this.taught = true; }
    if (clock) this.taught = true;
  }
}

/** One message at a time, learning before normalizing it (tests and tools; the runners decode batches). */
export class MessageDecoder {
  private readonly tracker = new TaughtTracker();

  constructor(
    private readonly normalizer: Normalizer,
    private readonly knowledge: ClockKnowledge,
    private readonly maxBytes = DEFAULT_MAX_MESSAGE_BYTES,
  ) {}

  get taught(): boolean { return this.tracker.taught; }
  set taught(v: boolean) { this.tracker.taught = v; }

  decode(value: Buffer | null, from: MessageOrigin): Decoded {
    const p = parseMessage(value, from.topic, this.maxBytes);
    if (!p.ok) return p;
    // (The runner re-sorts the learned anchors after each batch; re-sorting per message costs too much.)
    const t = learnFrom(p, from.topic, this.knowledge);
    this.tracker.note(t.computer, t.clock);
    return normalizeParsed(this.normalizer, p, from);
  }
}
