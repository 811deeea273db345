// The pure core: one SourceRecord (any input shape, already adapted) to one NormalizedEvent, or a reason.
import type { NormalizedEvent, Provenance } from '../../schemas/event.js';
import { SCHEMA_VERSION } from '../../schemas/values.js';
import type { EvtxRecord } from '../evtx/record.js';
import { ClockKnowledge, parseZone, repairTime, type Zone } from './clock.js';
import { canonicalChannel, extractFields } from './extract.js';
import type { SourceRecord } from './source.js';
import { LEVELS, cleanEventData, cleanTrim, hostNames, isIsoMillis, isoUtcToMillisString, utcMillis, wallToMillis, isoMillis } from './values.js';

export type NormalizeResult = { ok: true; event: NormalizedEvent } | { ok: false; reason: string };

/**
 * How each event is checked before it is given out: `fast`, a hand check of the invariants zod would
 * check; `none`; or the zod schema itself (schemas/event.ts's NormalizedEvent), a full parse of every
 * event. The schema is the caller's to load: zod's start-up is not paid by every thread that normalizes.
 */
export type Validation = 'fast' | 'none' | typeof NormalizedEvent;

export interface NormalizeOptions {
  /** `--tz`: the zone of local-time sources (wins over what Sysmon teaches). */
  tz?: string;
  /** What a first pass learned (zone offsets, AM/PM anchors, host FQDNs). */
  knowledge?: ClockKnowledge;
  /** Default `fast`. */
  validate?: Validation;
  /** event.ingested; default: when the Normalizer was made. */
  ingested?: string;
}

/** The invariants of NormalizedEvent that extraction could break (types are guaranteed by TypeScript). */
export function fastCheck(ev: NormalizedEvent): string | undefined {
  if (!isIsoMillis(ev['@timestamp'])) return `@timestamp is not an ISO UTC time: ${ev['@timestamp']}`;
  if (!Number.isInteger(ev.winlog.event_id) || ev.winlog.event_id < 0 || ev.winlog.event_id > 65535) return `bad event ID ${ev.winlog.event_id}`;
  if (!ev.winlog.channel) return 'no channel';
  if (!ev.winlog.provider_name) return 'no provider';
  if (!ev.host.name) return 'no computer name';
  const p = ev.source?.port ?? ev.destination?.port;
  if (p !== undefined && !(p > 0 && p < 65536)) return `bad port ${p}`;
  return undefined;
}

/** ECS version the events follow. */
export const ECS_VERSION = '8.11.0';

/** Audit success/failure from the Security keywords mask (bits 53 and 52) or keyword names. */
export function auditOutcome(kw: string | string[] | undefined): 'success' | 'failure' | undefined {
  if (kw === undefined) return undefined;
  if (typeof kw === 'string') {
    if (kw.length <= 15 || !kw.startsWith('0x')) return undefined;
    const top = parseInt(kw.slice(2, kw.length - 13), 16);
    return top & 2 ? 'success' : top & 1 ? 'failure' : undefined;
  }
  for (const k of kw) {
    if (k === 'Audit Success') return 'success';
    if (k === 'Audit Failure') return 'failure';
  }
  return undefined;
}

export class Normalizer {
  private readonly zone: Zone | undefined;
  private readonly ingested: string;
  private readonly validate: Validation;
  private readonly know: ClockKnowledge | undefined;

  constructor(opts: NormalizeOptions = {}) {
    if (opts.tz !== undefined) {
      this.zone = parseZone(opts.tz);
      if (!this.zone) throw new Error(`unknown time zone '${opts.tz}'`);
    }
    this.ingested = opts.ingested ?? new Date().toISOString();
    this.validate = opts.validate ?? 'fast';
    this.know = opts.knowledge;
  }

  /**
   * normalize()'s verdict without the event: undefined when it would give one, else the reason it gives.
   * For records whose event nobody reads (the stream's, that no detector uses: ingest/kafka/batch.ts):
   * the checks before the event is built, and the fast check's on the time. The fast check's other
   * conditions cannot fail once those passed (the ID, channel, provider and host name are checked first,
   * and extraction makes ports with toPort, 1 to 65535 only).
   */
  check(rec: SourceRecord, prov: Provenance): string | undefined {
    if (this.validate !== 'fast') {
      const r = this.normalize(rec, prov);
      return r.ok ? undefined : r.reason;
    }
    const h = this.head(rec, prov);
    if (typeof h === 'string') return h;
    return isIsoMillis(h.ts) ? undefined : `schema: @timestamp is not an ISO UTC time: ${h.ts}`;
  }

  /** The checks before the event is built, and its host names and time; or the reason it is rejected. */
  private head(rec: SourceRecord, prov: Provenance): { computer: string; name: string; hostname: string; ts: string; clock: NormalizedEvent['hoptrail']['clock'] } | string {
    const id = rec.event_id;
    if (!Number.isInteger(id) || id < 0 || id > 65535) return `event ID is not an integer 0-65535: ${String(id)}`;
    const computer = typeof rec.computer === 'string' ? rec.computer.trim() : '';
    if (!computer) return 'no computer name';
    if (typeof rec.channel !== 'string' || !rec.channel) return 'no channel';
    if (typeof rec.provider !== 'string' || !rec.provider) return 'no provider';
    if (typeof rec.timestamp !== 'string') return 'no time';

    const { name, hostname } = this.hostNames(computer);

    let ts: string | undefined;
    let clock: NormalizedEvent['hoptrail']['clock'];
    const kind = rec.time_kind ?? 'utc';
    if (kind === 'utc') {
      ts = isoUtcToMillisString(rec.timestamp);
      if (ts === undefined) {
        const ms = wallToMillis(rec.timestamp);
        if (!Number.isNaN(ms) && /(Z|[+-]00:?00)$/.test(rec.timestamp)) ts = isoMillis(ms);
        else {
          const d = Date.parse(rec.timestamp);
          if (!Number.isNaN(d) && /(Z|[+-]\d\d:?\d\d)$/.test(rec.timestamp)) ts = isoMillis(d);
        }
      }
      if (ts === undefined) return `time is not ISO-8601 UTC: ${rec.timestamp}`;
    } else {
      const r = repairTime(rec, hostname, prov.entry ? `${prov.file}!${prov.entry}` : prov.file ?? '', this.know, this.zone);
      if (!r) return `time is not a date-time: ${rec.timestamp}`;
      ts = r.timestamp;
      clock = r.clock;
    }
    if (ts.length !== 24) {
      // Years outside 0000-9999 render differently; they are corrupt, not events.
      return `time out of range: ${rec.timestamp}`;
    }
    return { computer, name, hostname, ts, clock };
  }

  /**
   * ECS host.name (the FQDN when the name is short and a first pass learned it) and host.hostname of a
   * record's computer name (trimmed, not empty).
   */
  hostNames(computer: string): { name: string; hostname: string } {
    const h = hostNames(computer);
    if (this.know && !h.name.includes('.')) h.name = this.know.fqdnOf(h.hostname) ?? h.name;
    return h;
  }

  /** event.ingested of a record that carries no ingest time of its own (EVTX). */
  get ingestedAt(): string {
    return this.ingested;
  }

  /** Whether events are checked by the fast check (or not at all), not by the zod schema. */
  get fastChecked(): boolean {
    return this.validate === 'fast' || this.validate === 'none';
  }

  /** When the collector says it took the record in (to the millisecond), if that is a real UTC time; else this run's. */
  private ingestedOf(rec: SourceRecord): string {
    return (rec.ingested !== undefined ? utcMillis(rec.ingested) : undefined) ?? this.ingested;
  }

  normalize(rec: SourceRecord, prov: Provenance): NormalizeResult {
    const h = this.head(rec, prov);
    if (typeof h === 'string') return { ok: false, reason: h };
    const { computer, name, hostname, ts, clock } = h;
    const id = rec.event_id;
    const channel = canonicalChannel(rec.channel);
    const ev: NormalizedEvent = {
      '@timestamp': ts,
      ecs: { version: ECS_VERSION },
      event: { code: String(id), provider: rec.provider, kind: 'event', ingested: this.ingestedOf(rec) },
      host: { name, hostname },
      log: {},
      winlog: { channel, computer_name: computer, provider_name: rec.provider, event_id: id, time_created: rec.timestamp },
      hoptrail: { schema_version: SCHEMA_VERSION, provenance: rec.recovered === true && !prov.recovered ? { ...prov, recovered: true } : prov },
    };
    if (rec.written_time !== undefined && rec.written_time !== '1601-01-01T00:00:00.0000000Z') {
      const w = utcMillis(rec.written_time);
      if (w !== undefined) ev.event.created = w;
    }
    if (prov.file !== undefined) ev.log.file = { path: prov.file };
    if (prov.offset !== undefined) ev.log.offset = prov.offset;
    if (clock !== undefined) ev.hoptrail.clock = clock;

    const w = ev.winlog;
    if (rec.record_id !== undefined && Number.isSafeInteger(rec.record_id) && rec.record_id >= 0) w.record_id = rec.record_id;
    if (rec.provider_guid) w.provider_guid = rec.provider_guid.toUpperCase();
    if (rec.process_id !== undefined || rec.thread_id !== undefined) {
      w.process = {};
      if (rec.process_id !== undefined) w.process.pid = rec.process_id;
      if (rec.thread_id !== undefined) w.process.thread = { id: rec.thread_id };
    }
    if (rec.activity_id) w.activity_id = rec.activity_id.toUpperCase();
    if (rec.related_activity_id) w.related_activity_id = rec.related_activity_id.toUpperCase();
    if (rec.user_sid) {
      w.user = { identifier: rec.user_sid };
      const un = cleanTrim(rec.user_name), ud = cleanTrim(rec.user_domain);
      if (un !== undefined) w.user.name = un;
      if (ud !== undefined) w.user.domain = ud;
    }
    const kw = rec.keywords;
    if (typeof kw === 'string') { if (kw.length > 0) w.keywords = kw; }
    else if (kw !== undefined && kw.length > 0) {
      // A collector's list of keyword names may hold an empty one: not a keyword.
      const names = kw.every((k) => k.length > 0) ? kw : kw.filter((k) => k.length > 0);
      if (names.length > 0) w.keywords = names;
    }
    if (typeof rec.level === 'number') {
      w.level = rec.level;
      const l = LEVELS[rec.level];
      if (l !== undefined) ev.log.level = l;
    } else if (typeof rec.level === 'string' && rec.level) ev.log.level = rec.level.toLowerCase();
    if (rec.opcode !== undefined && rec.opcode !== '') w.opcode = rec.opcode;
    if (rec.task !== undefined && rec.task !== '') w.task = rec.task;
    if (rec.version !== undefined) w.version = rec.version;
    if (rec.message !== undefined && rec.message !== '') ev.message = rec.message;

    const data = cleanEventData(rec.event_data);
    if (data !== undefined) {
      if (rec.event_data_kind === 'EventData' || rec.event_data_kind === 'none') w.event_data = data;
      else w.user_data = data;
    }
    extractFields(ev, channel, id, data ?? {}, rec.event_data_kind, rec.message);

    if (ev.event.outcome === undefined) {
      const o = rec.audit ?? auditOutcome(rec.keywords);
      if (o !== undefined) ev.event.outcome = o;
    }
    // The record's own user SID stays in winlog.user only: it is the logging service's account as often
    // as the actor's (Sysmon logs as SYSTEM), so it is not copied to user.* (as Winlogbeat does not).

    if (this.validate === 'fast') {
      const bad = fastCheck(ev);
      if (bad !== undefined) return { ok: false, reason: `schema: ${bad}` };
    } else if (this.validate !== 'none') {
      const r = this.validate.safeParse(ev);
      if (!r.success) return { ok: false, reason: `schema: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
    }
    return { ok: true, event: ev };
  }
}

let shared: Normalizer | undefined;

/**
 * The entry point the EVTX parser side calls for each record it yields: `provenance` should carry
 * `{ format: 'evtx', file, chunk, offset, recovered? }` (from the parser's `loc`).
 */
export function normalizeEvtxRecord(record: EvtxRecord, provenance: Provenance, normalizer?: Normalizer): NormalizeResult {
  return (normalizer ?? (shared ??= new Normalizer())).normalize(record, provenance);
}
