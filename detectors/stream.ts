// Event-time core: items are buffered and released in event-time order once a watermark passes them.
// The watermark is the least progress over the open partitions (files, Kafka partitions) minus the
// allowed lateness and clock skew, so the released order does not depend on arrival order within that
// bound. Ties are broken by a caller-supplied stable key, never by arrival.

export interface StreamOptions {
  /** How late (event time) an item may arrive and still be ordered correctly. Default 5 min. */
  latenessMs?: number;
  /** Clock skew tolerated between hosts. Default 2 min. */
  skewMs?: number;
  /** Most items held before the oldest are released regardless of the watermark. */
  maxBuffered?: number;
}

export const DEFAULT_LATENESS_MS = 5 * 60_000;
export const DEFAULT_SKEW_MS = 2 * 60_000;

interface Entry<T> { t: number; key: string; item: T }

/** Orders entries by time, then by the stable key. */
function cmp<T>(a: Entry<T>, b: Entry<T>): number {
  return a.t - b.t || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

export class EventTimeBuffer<T> {
  readonly latenessMs: number;
  readonly skewMs: number;
  private readonly maxBuffered: number;
  private buf: Entry<T>[] = [];
  private readonly progress = new Map<string, number>();
  private released = -Infinity;
  /** Items that arrived behind what was already released (beyond the bound). */
  late = 0;
  /** Times the buffer cap forced a release ahead of the watermark. */
  forced = 0;

  constructor(opts: StreamOptions = {}) {
    this.latenessMs = opts.latenessMs ?? DEFAULT_LATENESS_MS;
    this.skewMs = opts.skewMs ?? DEFAULT_SKEW_MS;
    this.maxBuffered = opts.maxBuffered ?? 1_000_000;
  }

  /** Declares a partition before its first item (files not yet read hold the watermark back). */
  open(partition: string): void {
    if (!this.progress.has(partition)) this.progress.set(partition, -Infinity);
  }

  /** A finished partition no longer holds the watermark back. */
  close(partition: string): void {
    this.progress.delete(partition);
  }

  get size(): number {
    return this.buf.length;
  }

  /** The time up to which everything has been (or may now be) released. */
  watermark(): number {
    if (this.progress.size === 0) return this.maxSeen - this.latenessMs - this.skewMs;
    let min = Infinity;
    for (const v of this.progress.values()) if (v < min) min = v;
    return min - this.latenessMs - this.skewMs;
  }

  private maxSeen = -Infinity;

  push(t: number, key: string, item: T, partition = 'default'): void {
    if (t < this.released) this.late++;
    const p = this.progress.get(partition);
    if (p === undefined || t > p) this.progress.set(partition, Math.max(t, p ?? -Infinity));
    if (t > this.maxSeen) this.maxSeen = t;
    this.buf.push({ t, key, item });
  }

  /** Releases, in order, everything at or before the watermark (and the oldest beyond the cap). */
  drain(): T[] {
    let wm = this.watermark();
    if (this.buf.length > this.maxBuffered) {
      this.buf.sort(cmp);
      const cut = this.buf[this.buf.length - this.maxBuffered].t;
      if (cut > wm) { wm = cut; this.forced++; }
    }
    if (this.buf.length === 0 || wm === -Infinity) return [];
    const out: Entry<T>[] = [];
    const keep: Entry<T>[] = [];
    for (const e of this.buf) (e.t <= wm ? out : keep).push(e);
    if (out.length === 0) return [];
    this.buf = keep;
    out.sort(cmp);
    if (wm > this.released) this.released = wm;
    return out.map((e) => e.item);
  }

  /** Releases only what exceeds the buffer cap (oldest first): batch mode, where flush() does the rest. */
  drainOverflow(): T[] {
    if (this.buf.length <= this.maxBuffered) return [];
    this.buf.sort(cmp);
    this.forced++;
    const out = this.buf.splice(0, this.buf.length - this.maxBuffered);
    const last = out[out.length - 1].t;
    if (last > this.released) this.released = last;
    return out.map((e) => e.item);
  }

  /** Releases everything, in order. */
  flush(): T[] {
    const out = this.buf.sort(cmp);
    this.buf = [];
    if (out.length > 0) this.released = Math.max(this.released, out[out.length - 1].t);
    return out.map((e) => e.item);
  }
}

/** Keyed state whose entries expire a fixed time (event time) after they were last touched. */
export class TtlMap<V> {
  private readonly m = new Map<string, { v: V; last: number }>();
  constructor(readonly ttlMs: number, private readonly maxEntries = 200_000) {}

  get(key: string): V | undefined {
    return this.m.get(key)?.v;
  }

  set(key: string, v: V, now: number): void {
    const e = this.m.get(key);
    if (e) { e.v = v; e.last = Math.max(e.last, now); return; }
    if (this.m.size >= this.maxEntries) {
      // Bounded: drop the least recently inserted entry (Map keeps insertion order).
      const first = this.m.keys().next().value;
      if (first !== undefined) this.m.delete(first);
    }
    this.m.set(key, { v, last: now });
  }

  touch(key: string, now: number): void {
    const e = this.m.get(key);
    if (e && now > e.last) e.last = now;
  }

  delete(key: string): void {
    this.m.delete(key);
  }

  /** Removes and returns entries idle past the TTL at `now`. */
  evict(now: number): V[] {
    const out: V[] = [];
    for (const [k, e] of this.m) {
      if (e.last + this.ttlMs < now) { out.push(e.v); this.m.delete(k); }
    }
    return out;
  }

  values(): IterableIterator<V> {
    return [...this.m.values()].map((e) => e.v)[Symbol.iterator]();
  }

  get size(): number {
    return this.m.size;
  }
}
