// The hunt engine: normalized events in (any order within the lateness bound, from any number of files or
// partitions), sessions, hops, chains and fan-outs out. push() and drain() as events arrive, flush() at
// the end. File hunts and Kafka consumers drive the same object; it never does I/O.
import type { NormalizedEvent } from '../schemas/event.js';
import type { Hop, HuntOutput } from './session.js';
import { EventTimeBuffer, type StreamOptions } from './stream.js';
import { ScriptBlockAssembler } from './scriptblocks.js';
import { HalfSessions, type Half } from './halves.js';
import { HostDirectory } from './hosts.js';
import { pairHalves } from './pairing.js';
import { analyzeHops, hopOf, type HopOptions } from './hops.js';

export interface EngineOptions extends StreamOptions, HopOptions {
  /** A half-session closes after this much event time without activity. Default 10 min. */
  idleMs?: number;
  /** 4104 parts still missing after this long are emitted as partial. Default 5 min. */
  scriptTimeoutMs?: number;
  /**
   * Hold everything until flush() (up to the buffer cap): for file hunts, where a file read later may hold
   * older events of another host and files need not be in time order inside.
   */
  batch?: boolean;
}

/** Relevant events a batch holds at most; past it, the oldest are processed before the input ends. */
export const BATCH_HELD_MAX = 250_000;

/**
 * What a batch hunt must tell its user when it could not hold everything to the end (stats of an engine
 * with the default cap), or undefined when it held everything.
 */
export function heldNote(s: EngineStats): string | undefined {
  if (s.forced === 0) return undefined;
  const late = s.late > 0 ? `; ${s.late} event(s) then came older than events already processed` : '';
  return `more than ${BATCH_HELD_MAX} relevant events to hold: the oldest were processed before the input ended${late}; a session whose events are in files read out of time order may be split or left unpaired (hunt such evidence in parts, by host or by time)`;
}

export interface EngineStats {
  events: number;
  relevant: number;
  late: number;
  forced: number;
  sessions: number;
  buffered: number;
}

const SECURITY = new Set([4624, 4634, 4647, 4648, 4672, 4688, 4689, 4769, 5156, 4720, 4722, 4724, 4725, 4726, 4728, 4732, 4738, 4756, 4697, 4698]);
const SYSMON = new Set([1, 3, 5, 22]);
const PS_CLASSIC = new Set([400, 403, 600, 800]);
const PS_OPERATIONAL = new Set([4103, 4104, 4105, 4106, 8193, 8194, 8195, 8196, 8197, 12039, 40961, 40962, 53504]);

/** Whether an event can matter to a remoting session; everything else is dropped before buffering. */
export function isRelevant(e: NormalizedEvent): boolean {
  const id = e.winlog.event_id;
  switch (e.winlog.channel.toLowerCase()) {
    case 'security':
      if (id === 5156) return isRemotingFlow(e);
      if (id === 4624) return e.winlog.logon?.type_code === 3;
      return SECURITY.has(id);
    case 'microsoft-windows-sysmon/operational':
      if (id === 3) return isRemotingFlow(e);
      return SYSMON.has(id);
    case 'microsoft-windows-winrm/operational': return true;
    case 'windows powershell': return PS_CLASSIC.has(id);
    case 'microsoft-windows-powershell/operational': return PS_OPERATIONAL.has(id);
    default: return false;
  }
}

function isRemotingFlow(e: NormalizedEvent): boolean {
  const s = e.source?.port, d = e.destination?.port;
  return s === 5985 || s === 5986 || d === 5985 || d === 5986;
}

// The keys below are joined, not written as template literals: a template literal makes a tree of
// concatenations (about ten 32-byte nodes per key) that lives as long as the key, and a batch keeps two
// keys per relevant event to the end (26 MB of such nodes for ten copies of a domain controller's
// Security log); join makes one flat string.

/** Stable order among events of the same millisecond: never the file they came from. */
export function tiebreak(e: NormalizedEvent): string {
  return [e.host.name, e.winlog.channel.toLowerCase(), String(e.winlog.record_id ?? 0).padStart(12, '0'), String(e.winlog.event_id).padStart(5, '0'), e.powershell?.sequence ?? 0].join('|');
}

/**
 * An event's JSON line kept by the caller (in hunt: the bytes already written to events.ndjson), read
 * back only when the event is processed: a batch holds every relevant event to the end, and their text
 * grew the heap with the input (the engine never does I/O itself).
 */
export interface StoredLine { text(): string }

/** An event a batch holds as a stored line, with its identity: a record read twice is not read back twice. */
interface Held { stored: StoredLine; id: string | undefined }

/** A stored line, as an object again (without the message, as if held as one). */
function fromLine(line: string): NormalizedEvent {
  const e = JSON.parse(line) as NormalizedEvent;
  if (e.message !== undefined) e.message = undefined;
  return e;
}

/** What makes two records the same one (read twice: overlapping files, a replayed partition); none without a record ID. */
function identity(e: NormalizedEvent): string | undefined {
  if (e.winlog.record_id === undefined) return undefined;
  return [e.host.name, e.winlog.channel.toLowerCase(), e.winlog.record_id, e.winlog.event_id, e['@timestamp']].join('|');
}

export class HuntEngine {
  readonly hosts = new HostDirectory();
  /** Events, or in batch mode their stored lines when the caller keeps them. */
  private readonly buffer: EventTimeBuffer<NormalizedEvent | Held>;
  private readonly halves: HalfSessions;
  private readonly scripts: ScriptBlockAssembler;
  private readonly pool: Half[] = [];
  private readonly closedAt = new Map<Half, number>();
  private readonly used = new Set<Half>();
  private readonly hops: Hop[] = [];
  private readonly waitMs: number;
  private readonly idleMs: number;
  private readonly skewMs: number;
  private now = -Infinity;
  private nextCheck = -Infinity;
  private nEvents = 0;
  private nRelevant = 0;
  private nSessions = 0;
  private readonly seenEvents = new Set<string>();
  private readonly reported = new Set<string>();

  constructor(private readonly opts: EngineOptions = {}) {
    // Batch holds the relevant events to the end: a smaller cap keeps that within memory.
    this.buffer = new EventTimeBuffer({ maxBuffered: opts.batch ? BATCH_HELD_MAX : undefined, ...opts });
    this.skewMs = this.buffer.skewMs;
    this.idleMs = opts.idleMs ?? 10 * 60_000;
    this.halves = new HalfSessions(this.hosts, { idleMs: this.idleMs });
    this.scripts = new ScriptBlockAssembler(opts.scriptTimeoutMs);
    // A closed half waits for its other half, which may be logged up to twice the skew later.
    this.waitMs = 2 * this.skewMs + 30_000;
  }

  /** Declares an input (file, Kafka partition) that holds the watermark back until it is closed. */
  openPartition(p: string): void {
    this.buffer.open(p);
  }

  closePartition(p: string): void {
    this.buffer.close(p);
  }

  /**
   * Takes one normalized event; returns what became final. `stored`, where the caller keeps the event's
   * JSON line, is what a batch holds to the end instead of the object.
   */
  push(e: NormalizedEvent, partition?: string, stored?: StoredLine): HuntOutput[] {
    this.nEvents++;
    if (!isRelevant(e)) return [];
    const t = Date.parse(e['@timestamp']);
    if (!Number.isFinite(t)) return [];
    this.nRelevant++;
    // Buffered events are held for minutes (or, in batch, to the end): the message text is not needed.
    const item = this.opts.batch && stored !== undefined ? { stored, id: identity(e) } : e.message === undefined ? e : { ...e, message: undefined };
    this.buffer.push(t, tiebreak(e), item, partition);
    // Draining is cheap only in batches: every 1024 relevant events.
    return (this.nRelevant & 1023) === 0 ? this.drain() : [];
  }

  /** Processes everything the watermark has passed. */
  drain(): HuntOutput[] {
    const out: HuntOutput[] = [];
    for (const e of this.opts.batch ? this.buffer.drainOverflow() : this.buffer.drain()) this.process(e, out);
    // Nothing older than the watermark can still arrive: timers (idle close, pairing wait) fire on it.
    if (!this.opts.batch) {
      const wm = this.buffer.watermark();
      if (Number.isFinite(wm) && wm > this.now) this.advance(wm, out);
    }
    return out;
  }

  /** End of input: everything is released, closed and paired. */
  flush(): HuntOutput[] {
    const out: HuntOutput[] = [];
    const all = this.buffer.flush();
    // Each held event is let go once processed: they are not all alive at once as objects.
    for (let i = 0; i < all.length; i++) {
      const e = all[i];
      (all as unknown[])[i] = undefined;
      this.process(e, out);
    }
    for (const b of this.scripts.flush()) this.halves.add(b.event, Date.parse(b.event['@timestamp']), b);
    for (const h of this.halves.closeAll()) this.retire(h);
    this.pair(Infinity, out);
    this.patterns(out);
    return out;
  }

  /**
   * Chains and fan-outs over the hops kept so far, each reported once. A stream reports them as soon as
   * they appear (a longer chain later is reported again, as itself); a batch reports only at the end, so
   * only maximal chains.
   */
  private patterns(out: HuntOutput[]): void {
    const { chains, fanouts } = analyzeHops(this.hops, this.opts);
    for (const c of chains) {
      const k = `c|${c.session_ids.join(',')}`;
      if (!this.reported.has(k)) { this.reported.add(k); out.push({ kind: 'chain', chain: c }); }
    }
    for (const f of fanouts) {
      const k = `f|${f.session_ids.join(',')}`;
      if (!this.reported.has(k)) { this.reported.add(k); out.push({ kind: 'fanout', fanout: f }); }
    }
  }

  stats(): EngineStats {
    return { events: this.nEvents, relevant: this.nRelevant, late: this.buffer.late, forced: this.buffer.forced, sessions: this.nSessions, buffered: this.buffer.size };
  }

  private process(item: NormalizedEvent | Held, out: HuntOutput[]): void {
    // The same record read twice (overlapping files, a replayed partition) counts once.
    if (!this.firstSight('stored' in item ? item.id : identity(item))) return;
    const e = 'stored' in item ? fromLine(item.stored.text()) : item;
    const t = Date.parse(e['@timestamp']);
    this.advance(t, out);
    if (e.winlog.event_id === 4104 && e.winlog.channel.toLowerCase() === 'microsoft-windows-powershell/operational') {
      for (const b of this.scripts.add(e)) this.halves.add(b.event, Date.parse(b.event['@timestamp']), b);
      return;
    }
    this.halves.add(e, t);
  }

  private firstSight(id: string | undefined): boolean {
    if (id === undefined) return true;
    if (this.seenEvents.has(id)) return false;
    this.seenEvents.add(id);
    if (this.seenEvents.size > 2_000_000) this.seenEvents.clear();
    return true;
  }

  /** Hops are kept (bounded) for a day of event time behind the newest: longer than any chain window. */
  private keepHop(hop: Hop): void {
    this.hops.push(hop);
    const horizon = Date.parse(hop.time) - 24 * 3600_000;
    while (this.hops.length > 100_000 || (this.hops.length > 0 && Date.parse(this.hops[0].time) < horizon)) this.hops.shift();
  }

  /** Moves event time forward; every 5 s of it, expires script blocks, closes idle halves and pairs. */
  private advance(t: number, out: HuntOutput[]): void {
    if (t > this.now) this.now = t;
    if (this.now < this.nextCheck) return;
    this.nextCheck = this.now + 5_000;
    for (const b of this.scripts.expire(this.now)) this.halves.add(b.event, Date.parse(b.event['@timestamp']), b);
    for (const h of this.halves.closeIdle(this.now)) this.retire(h);
    this.pair(this.now, out);
  }

  private retire(h: Half): void {
    this.pool.push(h);
    // When it closed in event time (not when that was noticed): the same for any arrival pattern.
    this.closedAt.set(h, h.last + this.idleMs);
  }

  private pair(now: number, out: HuntOutput[]): void {
    const due = this.pool.filter((h) => now === Infinity || (this.closedAt.get(h) ?? 0) + this.waitMs < now);
    if (due.length === 0) return;
    const candidates = [...this.pool, ...this.halves.liveHalves()];
    let newHops = false;
    for (const r of pairHalves(due, candidates, this.hosts, this.skewMs, this.used)) {
      this.nSessions++;
      out.push({ kind: 'session', session: r.session });
      const hop = hopOf(r.session);
      if (hop && r.session.paired) {
        this.keepHop(hop);
        out.push({ kind: 'hop', hop });
        newHops = true;
      }
    }
    if (newHops && !this.opts.batch) this.patterns(out);
    // Due halves leave the pool; so do destinations already taken. Sources taken stay until due, so
    // one client process can pair with several destinations (fan-out).
    const dueSet = new Set(due);
    for (let i = this.pool.length - 1; i >= 0; i--) {
      const h = this.pool[i];
      if (dueSet.has(h) && (this.used.has(h) || now === Infinity)) { this.pool.splice(i, 1); this.closedAt.delete(h); }
      else if (h.side === 'destination' && this.used.has(h)) { this.pool.splice(i, 1); this.closedAt.delete(h); }
    }
    // Used marks are only needed while a half can still be met (a set: the pool may hold thousands).
    const inPool = new Set(this.pool);
    for (const h of [...this.used]) if (!inPool.has(h) && h.closed) this.used.delete(h);
  }
}
