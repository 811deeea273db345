// One Kafka message value to a normalized event, or the reason it cannot be one (for the dead-letter
// topic). Pure: the format is detected per message, and clocks and host names are learned as messages
// arrive (a stream has no first pass over its input, unlike a file hunt).
import type { NormalizedEvent, Provenance } from '../../schemas/event.js';
import { adapt } from '../json/detect.js';
import type { ClockKnowledge, Normalizer } from '../normalize/index.js';

export interface MessageOrigin {
  topic: string;
  partition: number;
  offset: string;
}

export type Decoded = { ok: true; event: NormalizedEvent } | { ok: false; reason: string };

/** Messages larger than this go to the dead-letter topic unread. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1 << 20;

export class MessageDecoder {
  /**
   * Set when a message may have taught the clock knowledge something: a new host name, or a Sysmon record
   * with a non-UTC time (over-approximated). The runner then persists the knowledge (state topic).
   */
  taught = false;
  private readonly computers = new Set<string>();

  constructor(
    private readonly normalizer: Normalizer,
    private readonly knowledge: ClockKnowledge,
    private readonly maxBytes = DEFAULT_MAX_MESSAGE_BYTES,
  ) {}

  decode(value: Buffer | null, from: MessageOrigin): Decoded {
    if (value === null || value.length === 0) return { ok: false, reason: 'empty message' };
    if (value.length > this.maxBytes) return { ok: false, reason: `oversized: ${value.length} bytes > ${this.maxBytes}` };
    let v: unknown;
    try {
      v = JSON.parse(value.toString('utf8'));
    } catch (e) {
      return { ok: false, reason: `not JSON: ${(e as Error).message}` };
    }
    const a = adapt(v, undefined, from.topic);
    if ('reason' in a) return { ok: false, reason: a.reason };
    // Sysmon UtcTime samples and FQDNs teach the clock repair of later messages on the same host. The
    // "source" of a sample is the host's collector, not the topic: a topic mixes hosts and sites. (The
    // runner re-sorts the learned anchors after each batch; re-sorting per message costs too much.)
    const computer = a.record.computer.trim().toLowerCase();
    this.knowledge.observe(a.record, `${from.topic}|${computer}`);
    if (!this.computers.has(computer) && this.computers.size < 100_000) { this.computers.add(computer); this.taught = true; }
    if ((a.record.time_kind ?? 'utc') !== 'utc' && a.record.provider === 'Microsoft-Windows-Sysmon') this.taught = true;
    const prov: Provenance = { format: a.format, kafka: { topic: from.topic, partition: from.partition, offset: Number(from.offset) } };
    const r = this.normalizer.normalize(a.record, prov);
    return r.ok ? { ok: true, event: r.event } : { ok: false, reason: `schema: ${r.reason}` };
  }
}
