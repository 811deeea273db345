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

export type AlertRecord =
  | { kind: 'session'; key: string; value: Session }
  | { kind: 'finding'; key: string; value: Finding }
  | { kind: 'retract'; key: string; value: null };

export interface LiveOptions extends EngineOptions {
  rules?: RulesConfig;
  /** Sessions and hops kept for findings, in event time behind the newest. Default 24 h (the chain horizon). */
  keepMs?: number;
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
  for (const k of Object.keys(v)) o[k] = cloneState((v as Record<string, unknown>)[k], seen);
  return o as T;
}

function digest(v: unknown): string {
  return createHash('sha1').update(JSON.stringify(v)).digest('base64');
}

export class LiveHunt {
  private engine: HuntEngine;
  private collector: FindingsCollector;
  private readonly sessions = new Map<string, Session>();
  private hops: Hop[] = [];
  /** What was last published per finding key (digest), to publish only changes. */
  private readonly published = new Map<string, { d: string; end: number }>();
  private prevHorizon = -Infinity;
  private newest = -Infinity;
  private dirty = false;
  private nFindings = 0;

  constructor(private readonly opts: LiveOptions = {}) {
    this.engine = new HuntEngine({ ...opts, batch: false });
    this.collector = new FindingsCollector(opts.rules ?? DEFAULT_CONFIG);
  }

  /** Event time up to which the engine may still hold state: newer events can still change output. */
  get newestEventTime(): number {
    return this.newest;
  }

  get findingsPublished(): number {
    return this.nFindings;
  }

  stats(): ReturnType<HuntEngine['stats']> & { kept_sessions: number; kept_hops: number } {
    return { ...this.engine.stats(), kept_sessions: this.sessions.size, kept_hops: this.hops.length };
  }

  /** A source (Kafka partition) with a backlog: it holds the watermark back until closed. */
  openPartition(p: string): void {
    this.engine.openPartition(p);
  }

  /** A source caught up (or revoked): no longer holds the watermark back; its next event re-opens it. */
  closePartition(p: string): void {
    this.engine.closePartition(p);
  }

  push(e: NormalizedEvent, partition?: string): AlertRecord[] {
    const t = Date.parse(e['@timestamp']);
    if (t > this.newest) this.newest = t;
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
    out.push(...this.findings());
    this.engine = new HuntEngine({ ...this.opts, batch: false });
    return out;
  }

  /**
   * Findings over everything kept, as hunt computes them at its end, published when new or changed.
   * Costs one collector copy and one finish(): callers throttle it.
   */
  findings(): AlertRecord[] {
    if (!this.dirty) return [];
    this.dirty = false;
    const horizon = this.newest - (this.opts.keepMs ?? 24 * 3600_000);
    // Chains and fan-outs from the hops kept, maximal only (as a batch hunt reports them).
    const { chains, fanouts } = analyzeHops(this.hops, this.opts);
    const found = cloneState(this.collector).finish({ sessions: [...this.sessions.values()], hops: this.hops, chains, fanouts });
    const out: AlertRecord[] = [];
    const live = new Set<string>();
    for (const f of found) {
      // Behind the window with no session kept, a finding is judged on partial state: its last version stands.
      if (Date.parse(f.end) < horizon && f.session_ids.length === 0) continue;
      live.add(f.finding_id);
      const d = digest(f);
      if (this.published.get(f.finding_id)?.d === d) continue;
      this.published.set(f.finding_id, { d, end: Date.parse(f.end) });
      this.nFindings++;
      out.push({ kind: 'finding', key: f.finding_id, value: f });
    }
    for (const [k, p] of [...this.published]) {
      if (live.has(k)) continue;
      this.published.delete(k);
      // Inside the window at the last evaluation and gone now: superseded (a grown chain, a command now
      // seen inside a session), so retracted. Older: it aged out with its sessions, and stands.
      if (p.end >= this.prevHorizon) out.push({ kind: 'retract', key: k, value: null });
    }
    // Sessions leave only after taking part in one evaluation, however far event time jumped.
    this.expire(horizon);
    this.prevHorizon = horizon;
    return out;
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
