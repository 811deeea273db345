// The live hunt: the same engine and findings as `hunt`, driven by a stream that never ends. Events in,
// alert records out: each session once when final, each finding when it appears or changes, and a
// retraction (null value) when a finding is superseded (a chain that grew). Pure: no I/O, no clock reads
// (callers pass wall time), so a replay of the same events yields the same records with the same keys.
import { createHash } from 'node:crypto';
import type { NormalizedEvent } from '../schemas/event.js';
import { HuntEngine, type EngineOptions } from './engine.js';
import { analyzeHops } from './hops.js';
import type { Hop, HuntOutput, Session } from './session.js';
import { DEFAULT_CONFIG, FindingsCollector, type Finding, type RulesConfig } from './findings/index.js';
import { setOwn } from '../ingest/own.js';

export type AlertRecord =
  | { kind: 'session'; key: string; value: Session }
  | { kind: 'finding'; key: string; value: Finding }
  | { kind: 'retract'; key: string; value: null };

export interface LiveOptions extends EngineOptions {
  rules?: RulesConfig;
  /** Sessions and hops kept for findings, in event time behind the newest. Default 24 h (the chain horizon). */
  keepMs?: number;
  /** Event time after which a finding's sessions are closed and paired (a restored finding is judged). */
  settleMs?: number;
  /** Most sessions kept for findings (oldest dropped first). */
  maxSessions?: number;
}

/** A deep copy keeping prototypes (class instances, Map, Set): finish() may mutate collector state. */
export function cloneState<T>(v: T, seen = new Map<unknown, unknown>()): T {
  if (typeof v !== 'object' || v === null) return v;
  const hit = seen.get(v);
  if (hit !== undefined) return hit as T;
  if (v instanceof RegExp || v instanceof Date) return v;
  if (v instanceof Map) {
    const m = new Map();
    seen.set(v, m);
    for (const [k, x] of v) m.set(k, cloneState(x, seen));
    return m as T;
  }
  if (v instanceof Set) {
    const s = new Set();
    seen.set(v, s);
    for (const x of v) s.add(cloneState(x, seen));
    return s as T;
  }
  if (Array.isArray(v)) {
    const a: unknown[] = [];
    seen.set(v, a);
    for (const x of v) a.push(cloneState(x, seen));
    return a as T;
  }
  const o = Object.create(Object.getPrototypeOf(v) as object | null) as Record<string, unknown>;
  seen.set(v, o);
  // setOwn: an event data field read as `__proto__` is an own key; assigned, it would be dropped.
  for (const k of Object.keys(v)) setOwn(o, k, cloneState((v as Record<string, unknown>)[k], seen));
  return o as T;
}

function digestText(s: string): string {
  return createHash('sha1').update(s).digest('base64');
}

function digest(v: unknown): string {
  return digestText(JSON.stringify(v));
}

export class LiveHunt {
  private engine: HuntEngine;
  private collector: FindingsCollector;
  private readonly sessions = new Map<string, Session>();
  private hops: Hop[] = [];
  /** What was last published per finding key (digest), to publish only changes. */
  private readonly published = new Map<string, { d: string; end: number; sessions: string[]; restored?: boolean }>();
  private newest = -Infinity;
  /** The findings window's lower edge: sessions older than this left it. Never moves back (see findings()). */
  private horizon = -Infinity;
  /** Per source, the oldest event time this run saw from it (where its replay began, out of order or not). */
  private readonly starts = new Map<string, number>();
  /** Per open source, the newest event time seen (mirrors the engine's partition progress). */
  private readonly progress = new Map<string, number>();
  /** The event clock of the latest findings evaluation (the greatest, as the window's edge). */
  private evaluated = -Infinity;
  private dirty = false;
  private nFindings = 0;

  constructor(private readonly opts: LiveOptions = {}) {
    this.engine = new HuntEngine({ ...opts, batch: false });
    this.collector = new FindingsCollector(opts.rules ?? DEFAULT_CONFIG);
  }

  /**
   * Event time that every open source has reached (the engine's watermark before lateness and skew):
   * the newest event when no source is open. State older than this less the horizon is settled.
   */
  get eventClock(): number {
    if (this.progress.size === 0) return this.newest;
    let min = Infinity;
    for (const v of this.progress.values()) if (v < min) min = v;
    return min;
  }

  /**
   * Event time up to which findings were evaluated: every session and hop at most the findings window
   * (keepMs) older than this took part in the latest evaluation, or in one before it. What the caller
   * published from that evaluation judged everything it holds up to here; what it pushed since may not
   * have been judged yet (a state restore must replay back from here, not from the newest event).
   */
  get evaluatedClock(): number {
    return this.evaluated;
  }

  get findingsPublished(): number {
    return this.nFindings;
  }

  stats(): ReturnType<HuntEngine['stats']> & { kept_sessions: number; kept_hops: number } {
    return { ...this.engine.stats(), kept_sessions: this.sessions.size, kept_hops: this.hops.length };
  }

  /**
   * A finding published by an earlier run (read back from the alerts topic): republished only if it
   * changes, retracted if the replay no longer finds it once event time has settled past it.
   */
  restore(key: string, value: string | null): void {
    if (value === null) { this.published.delete(key); return; }
    let f: { end?: string; session_ids?: string[] } = {};
    try {
      f = JSON.parse(value) as typeof f;
    } catch { /* not ours: ignored */ }
    const end = Date.parse(f.end ?? '');
    if (Number.isFinite(end)) this.published.set(key, { d: digestText(value), end, sessions: f.session_ids ?? [], restored: true });
  }

  /** A source (Kafka partition) with a backlog: it holds the watermark back until closed. */
  openPartition(p: string): void {
    this.engine.openPartition(p);
    if (!this.progress.has(p)) this.progress.set(p, -Infinity);
  }

  /** A source caught up (or revoked): no longer holds the watermark back; its next event re-opens it. */
  closePartition(p: string): void {
    this.engine.closePartition(p);
    this.progress.delete(p);
  }

  push(e: NormalizedEvent, partition?: string): AlertRecord[] {
    const t = Date.parse(e['@timestamp']);
    if (t > this.newest) this.newest = t;
    if (partition !== undefined) {
      if (!(t <= (this.progress.get(partition) ?? -Infinity))) this.progress.set(partition, t);
      if (!(t >= (this.starts.get(partition) ?? Infinity))) this.starts.set(partition, t);
    }
    this.collector.push(e);
    this.dirty = true;
    return this.take(this.engine.push(e, partition));
  }

  /** What the watermark released since the last call. */
  drain(): AlertRecord[] {
    return this.take(this.engine.drain());
  }

  /**
   * End of what is known (an idle stream, or a test's end of input): everything closes and pairs, the
   * findings are evaluated, and the engine starts afresh (its state was all released).
   */
  flush(): AlertRecord[] {
    const out = this.take(this.engine.flush());
    // A final evaluation even when nothing new came out: findings restored from an earlier run are judged.
    if ([...this.published.values()].some((p) => p.restored)) this.dirty = true;
    out.push(...this.findings(true));
    this.engine = new HuntEngine({ ...this.opts, batch: false });
    this.progress.clear();
    return out;
  }

  /**
   * Findings over everything kept, as hunt computes them at its end, published when new or changed.
   * Costs one collector copy and one finish(): callers throttle it.
   */
  findings(final = false): AlertRecord[] {
    if (!this.dirty) return [];
    this.dirty = false;
    // The event clock drops when a source opens that has read nothing yet (a restart, a rebalance); the
    // sessions that left the window are gone all the same, so the window's edge only moves forward.
    this.horizon = Math.max(this.horizon, this.eventClock - (this.opts.keepMs ?? 24 * 3600_000));
    if (this.eventClock > this.evaluated) this.evaluated = this.eventClock;
    const horizon = this.horizon;
    // Chains and fan-outs from the hops kept, maximal only (as a batch hunt reports them).
    const { chains, fanouts } = analyzeHops(this.hops, this.opts);
    const found = cloneState(this.collector).finish({ sessions: [...this.sessions.values()], hops: this.hops, chains, fanouts });
    const out: AlertRecord[] = [];
    const live = new Set<string>();
    for (const f of found) {
      live.add(f.finding_id);
      // Behind the window with no session kept, a finding is judged on partial state: its last version stands.
      if (Date.parse(f.end) < horizon && f.session_ids.length === 0) continue;
      const d = digest(f);
      const prev = this.published.get(f.finding_id);
      if (prev) prev.restored = false;
      if (prev?.d === d) continue;
      this.published.set(f.finding_id, { d, end: Date.parse(f.end), sessions: f.session_ids });
      this.nFindings++;
      out.push({ kind: 'finding', key: f.finding_id, value: f });
    }
    const settled = final ? Infinity : this.eventClock - (this.opts.settleMs ?? 31 * 60_000);
    for (const [k, p] of [...this.published]) {
      if (live.has(k)) continue;
      if (p.restored) {
        // From an earlier run. Judged only when it lies inside what every source replayed (else its
        // events are not all here, and it stands), and once event time settled past it.
        if (p.end < this.replayFloor()) this.published.delete(k);
        else if (p.end < settled) { this.published.delete(k); out.push({ kind: 'retract', key: k, value: null }); }
        continue;
      }
      this.published.delete(k);
      // Gone with sessions that aged out of the window: it stands. Gone otherwise: superseded (a grown
      // chain, a command now seen inside a session), so retracted.
      if (!p.sessions.some((id) => !this.sessions.has(id))) out.push({ kind: 'retract', key: k, value: null });
    }
    // Sessions leave only after taking part in one evaluation, however far event time jumped.
    this.expire(horizon);
    return out;
  }

  /** Event time from which every source's events were seen by this run. */
  private replayFloor(): number {
    let max = this.starts.size === 0 ? Infinity : -Infinity;
    for (const v of this.starts.values()) if (v > max) max = v;
    return max;
  }

  private take(outs: HuntOutput[]): AlertRecord[] {
    const recs: AlertRecord[] = [];
    for (const o of outs) {
      if (o.kind === 'session') {
        this.sessions.set(o.session.session_id, o.session);
        recs.push({ kind: 'session', key: o.session.session_id, value: o.session });
        this.dirty = true;
      } else if (o.kind === 'hop') {
        this.hops.push(o.hop);
        this.dirty = true;
      }
      // Chains and fan-outs are recomputed from the hops in findings(): only the maximal ones count.
    }
    return recs;
  }

  /** Sessions and hops older than keepMs behind the newest event leave the findings' input. */
  private expire(horizon: number): void {
    const max = this.opts.maxSessions ?? 100_000;
    for (const [id, s] of this.sessions) {
      if (this.sessions.size <= max && Date.parse(s.end) >= horizon) continue;
      this.sessions.delete(id);
    }
    if (this.hops.length > 0 && Date.parse(this.hops[0].time) < horizon) this.hops = this.hops.filter((h) => Date.parse(h.time) >= horizon);
  }
}
