// Clock repair. Two collector bugs make event times wrong:
// - NXLog `EventTime` is the collector's local wall time with no zone (to the second);
// - Export-WinEvents writes `TimeGenerated` (UTC) with a 12-hour clock and no AM/PM.
// Sysmon events carry their own true `UtcTime`; we learn from them, per host (then per input file), the
// zone offset or the AM/PM half, or use the zone given with --tz. What was done is recorded on the event.
import type { ClockRepair } from '../../schemas/event.js';
import type { SourceRecord, TimeKind } from './source.js';
import { isoMillis, wallToMillis } from './values.js';

const HOUR = 3_600_000;
const QUARTER = 15 * 60_000;

/** A zone: gives the offset (minutes, local minus UTC) in force at a local wall time. */
export type Zone = (localMillis: number) => number;

/** Parse `--tz`: `Z`, `UTC`, `+05:30`, `-0400`, `-4`, or an IANA name (`America/New_York`). */
export function parseZone(z: string): Zone | undefined {
  const t = z.trim();
  if (/^(z|utc|gmt)$/i.test(t)) return () => 0;
  const m = /^(?:utc|gmt)?([+-])(\d{1,2})(?::?(\d{2}))?$/i.exec(t);
  if (m) {
    const off = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0));
    return Math.abs(off) <= 14 * 60 ? () => off : undefined;
  }
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: t, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
  } catch {
    return undefined;
  }
  const offsetAt = (utc: number): number => {
    const p: Record<string, number> = {};
    for (const part of fmt.formatToParts(new Date(utc))) if (part.type !== 'literal') p[part.type] = Number(part.value);
    return Math.round((Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(utc / 1000) * 1000) / 60_000);
  };
  // Local -> UTC: guess with the offset at the local instant read as UTC, then correct once (DST edges).
  return (local) => {
    const o1 = offsetAt(local);
    return offsetAt(local - o1 * 60_000);
  };
}

function mode(counts: Map<number, number>): number | undefined {
  let best: number | undefined, n = 0;
  for (const [k, c] of counts) if (c > n) { best = k; n = c; }
  return best;
}

function nearest(sorted: number[], x: number): number | undefined {
  if (sorted.length === 0) return undefined;
  let lo = 0, hi = sorted.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < x) lo = mid + 1; else hi = mid;
  }
  const a = sorted[lo], b = lo > 0 ? sorted[lo - 1] : a;
  return Math.abs(a - x) <= Math.abs(b - x) ? a : b;
}

interface Samples { offsets: Map<number, number>; anchors: number[] }

/**
 * Anchors (Sysmon's true UTC, to settle a 12-hour clock's AM or PM: any within hours will do) are kept to
 * the minute, once each, and at most this many per host or file, the newest: a stream runs for months,
 * and its knowledge goes to every worker and into the state topic.
 */
const ANCHOR_STEP = 60_000;
const MAX_ANCHORS = 50_000;

/** Sorted, each once, the newest MAX_ANCHORS. */
function compact(s: Samples): void {
  const a = s.anchors;
  a.sort((x, y) => x - y);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (n === 0 || a[i] !== a[n - 1]) a[n++] = a[i];
  a.length = n;
  if (n > MAX_ANCHORS) a.splice(0, n - MAX_ANCHORS);
}

function addAnchor(s: Samples, utc: number): void {
  s.anchors.push(Math.round(utc / ANCHOR_STEP) * ANCHOR_STEP);
  // Between seals (a stream may never ask for an anchor on this thread), bounded all the same.
  if (s.anchors.length > 2 * MAX_ANCHORS) compact(s);
}

function sample(map: Map<string, Samples>, key: string, kind: TimeKind, written: number, utc: number): void {
  let s = map.get(key);
  if (!s) map.set(key, (s = { offsets: new Map(), anchors: [] }));
  if (kind === 'local') {
    const off = Math.round((written - utc) / QUARTER) * 15;
    s.offsets.set(off, (s.offsets.get(off) ?? 0) + 1);
  } else addAnchor(s, utc);
}

/** ClockKnowledge as plain data: sent to worker threads, merged from them. */
export interface KnowledgeSnapshot {
  byHost: [string, { offsets: [number, number][]; anchors: number[] }][];
  byFile: [string, { offsets: [number, number][]; anchors: number[] }][];
  fqdn: [string, string][];
}

const samplesOut = (m: Map<string, Samples>): KnowledgeSnapshot['byHost'] => [...m].map(([k, s]) => [k, { offsets: [...s.offsets], anchors: s.anchors }]);

/**
 * What a first pass over the inputs learned: per host and per file, Sysmon's true UTC against the record's
 * written time; and each short host name's FQDN. Feed it every record with observe(), then call seal().
 */
export class ClockKnowledge {
  private readonly byHost = new Map<string, Samples>();
  private readonly byFile = new Map<string, Samples>();
  private readonly fqdn = new Map<string, string>();
  private sealed = false;

  /** `computer`: the record's, trimmed and in lower case, when the caller has it. */
  observe(rec: SourceRecord, fileKey: string, computer?: string): void {
    const c = computer ?? rec.computer.trim().toLowerCase();
    const dot = c.indexOf('.');
    if (dot > 0) {
      const short = c.slice(0, dot);
      if (!this.fqdn.has(short)) this.fqdn.set(short, c);
    }
    const kind = rec.time_kind ?? 'utc';
    if (kind === 'utc') return;
    // Sysmon 3 reports a cached connection time, which can be days old: not a clock sample.
    if (rec.provider !== 'Microsoft-Windows-Sysmon' || rec.event_id === 3) return;
    const u = rec.event_data.UtcTime;
    if (u === undefined) return;
    const utc = wallToMillis(u);
    const written = wallToMillis(rec.timestamp);
    if (Number.isNaN(utc) || Number.isNaN(written)) return;
    const host = dot > 0 ? c.slice(0, dot) : c;
    sample(this.byHost, `${kind}|${host}`, kind, written, utc);
    sample(this.byFile, `${kind}|${fileKey}`, kind, written, utc);
  }

  snapshot(): KnowledgeSnapshot {
    // Canonical whoever took it and whenever it was last sealed (threads compare and merge snapshots).
    for (const m of [this.byHost, this.byFile]) for (const s of m.values()) compact(s);
    return { byHost: samplesOut(this.byHost), byFile: samplesOut(this.byFile), fqdn: [...this.fqdn] };
  }

  /**
   * Adds what another pass learned (a worker's, one file's). Merging in input order gives what one
   * sequential pass would have learned: the first FQDN seen for a short name wins, samples add up.
   */
  merge(snap: KnowledgeSnapshot): void {
    for (const [short, full] of snap.fqdn) if (!this.fqdn.has(short)) this.fqdn.set(short, full);
    for (const [map, entries] of [[this.byHost, snap.byHost], [this.byFile, snap.byFile]] as const) {
      for (const [key, x] of entries) {
        let s = map.get(key);
        if (!s) map.set(key, (s = { offsets: new Map(), anchors: [] }));
        for (const [off, n] of x.offsets) s.offsets.set(off, (s.offsets.get(off) ?? 0) + n);
        for (const a of x.anchors) addAnchor(s, a);
      }
    }
    this.sealed = false;
  }

  static from(snap: KnowledgeSnapshot): ClockKnowledge {
    const k = new ClockKnowledge();
    k.merge(snap);
    k.seal();
    return k;
  }

  seal(): void {
    for (const m of [this.byHost, this.byFile]) for (const s of m.values()) compact(s);
    this.sealed = true;
  }

  /** The FQDN seen for a short host name, if any. */
  fqdnOf(short: string): string | undefined {
    return this.fqdn.get(short);
  }

  offset(kind: 'local', host: string, fileKey: string): { minutes: number; source: 'sysmon-host' | 'sysmon-source' } | undefined {
    const h = this.byHost.get(`${kind}|${host}`);
    const hm = h ? mode(h.offsets) : undefined;
    if (hm !== undefined) return { minutes: hm, source: 'sysmon-host' };
    const f = this.byFile.get(`${kind}|${fileKey}`);
    const fm = f ? mode(f.offsets) : undefined;
    return fm !== undefined ? { minutes: fm, source: 'sysmon-source' } : undefined;
  }

  anchor(host: string, fileKey: string, near: number): { utc: number; source: 'sysmon-host' | 'sysmon-source' } | undefined {
    if (!this.sealed) this.seal();
    const h = this.byHost.get(`utc-12h|${host}`);
    const a = h ? nearest(h.anchors, near) : undefined;
    if (a !== undefined) return { utc: a, source: 'sysmon-host' };
    const f = this.byFile.get(`utc-12h|${fileKey}`);
    const b = f ? nearest(f.anchors, near) : undefined;
    return b !== undefined ? { utc: b, source: 'sysmon-source' } : undefined;
  }
}

export interface RepairedTime {
  /** Millisecond ISO UTC. */
  timestamp: string;
  clock: ClockRepair;
}

/**
 * Repair one record's time (time_kind `local` or `utc-12h`). `host` is the lower-case short host name.
 * Never throws; returns undefined only for text that is not a time at all.
 */
export function repairTime(rec: SourceRecord, host: string, fileKey: string, know: ClockKnowledge | undefined, zone: Zone | undefined): RepairedTime | undefined {
  const written = wallToMillis(rec.timestamp);
  if (Number.isNaN(written)) return undefined;
  const original = rec.timestamp;
  if (rec.time_kind === 'local') {
    if (zone) {
      const off = zone(written);
      return { timestamp: isoMillis(written - off * 60_000), clock: { original, tz_offset_minutes: off, tz_source: 'option' } };
    }
    const o = know?.offset('local', host, fileKey);
    if (o) return { timestamp: isoMillis(written - o.minutes * 60_000), clock: { original, tz_offset_minutes: o.minutes, tz_source: o.source } };
    return { timestamp: isoMillis(written), clock: { original, unrepaired: true, reason: 'local time with no known zone: give --tz' } };
  }
  // utc-12h: the true time is the written one in the AM or the PM half of the same date.
  const base = written - ((((Math.floor(written / HOUR) % 24) + 24) % 24) >= 12 ? 12 * HOUR : 0); // getUTCHours, no Date
  const pm = base + 12 * HOUR;
  const a = know?.anchor(host, fileKey, base + 6 * HOUR);
  if (a) {
    const t = Math.abs(base - a.utc) <= Math.abs(pm - a.utc) ? base : pm;
    return { timestamp: isoMillis(t), clock: { original, hours_added: Math.round((t - written) / HOUR), half_source: a.source } };
  }
  if (rec.export_local_time !== undefined && zone) {
    // The export ran after the event: take the latest candidate not after the export (1 minute slack).
    const exportLocal = wallToMillis(rec.export_local_time);
    const exportUtc = exportLocal - zone(exportLocal) * 60_000;
    const before = [base, pm].filter((c) => c <= exportUtc + 60_000);
    if (!Number.isNaN(exportUtc) && before.length > 0) {
      const t = before[before.length - 1];
      return { timestamp: isoMillis(t), clock: { original, hours_added: Math.round((t - written) / HOUR), half_source: 'export-time', tz_source: 'option' } };
    }
  }
  return { timestamp: isoMillis(written), clock: { original, unrepaired: true, reason: '12-hour clock with no AM/PM and no Sysmon UtcTime to settle it: give --tz' } };
}
