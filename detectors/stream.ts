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

/** A binary min-heap of entries: O(log n) per item however large the buffered window grows. */
class Heap<T> {
  readonly a: Entry<T>[] = [];
  get size(): number { return this.a.length; }
  peek(): Entry<T> | undefined { return this.a[0]; }
  push(e: Entry<T>): void {
    const a = this.a;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (cmp(a[i], a[p]) >= 0) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): Entry<T> | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < a.length && cmp(a[l], a[m]) < 0) m = l;
        if (r < a.length && cmp(a[r], a[m]) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

export class EventTimeBuffer<T> {
  readonly latenessMs: number;
  readonly skewMs: number;
  private readonly maxBuffered: number;
  private readonly heap = new Heap<T>();
  private readonly progress = new Map<string, number>();
  private released = -Infinity;
  private maxSeen = -Infinity;
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
    return this.heap.size;
  }

  /** The time up to which everything may be released: the least partition progress, less lateness and skew. */
  watermark(): number {
    if (this.progress.size === 0) return this.maxSeen - this.latenessMs - this.skewMs;
    let min = Infinity;
    for (const v of this.progress.values()) if (v < min) min = v;
    return min - this.latenessMs - this.skewMs;
  }

  push(t: number, key: string, item: T, partition = 'default'): void {
    if (t < this.released) this.late++;
    const p = this.progress.get(partition);
    if (p === undefined || t > p) this.progress.set(partition, Math.max(t, p ?? -Infinity));
    if (t > this.maxSeen) this.maxSeen = t;
    this.heap.push({ t, key, item });
  }

  private popUntil(wm: number, out: T[]): void {
    for (let e = this.heap.peek(); e && e.t <= wm; e = this.heap.peek()) {
      this.heap.pop();
      out.push(e.item);
      if (e.t > this.released) this.released = e.t;
    }
  }

  /** Releases, in order, everything at or before the watermark (and the oldest beyond the cap). */
  drain(): T[] {
    const out: T[] = [];
    const wm = this.watermark();
    if (wm > this.released) this.released = wm;
    this.popUntil(wm, out);
    this.drainCap(out);
    return out;
  }

  /** Releases only what exceeds the buffer cap (oldest first): batch mode, where flush() does the rest. */
  drainOverflow(): T[] {
    const out: T[] = [];
    this.drainCap(out);
    return out;
  }

  private drainCap(out: T[]): void {
    if (this.heap.size <= this.maxBuffered) return;
    this.forced++;
    // Down to 90% of the cap, so the cap is not hit again on the very next item.
    const keep = Math.floor(this.maxBuffered * 0.9);
    while (this.heap.size > keep) {
      const e = this.heap.pop();
      if (!e) break;
      out.push(e.item);
      if (e.t > this.released) this.released = e.t;
    }
  }

  /** Releases everything, in order. */
  flush(): T[] {
    const out: T[] = [];
    this.popUntil(Infinity, out);
    return out;
  }
}

/**
 * Keyed state whose entries expire a fixed time (event time) after they were last touched.
 *
 * Entries are kept in the order of their last touch, which is the order of their times while times only
 * grow (events are processed in event-time order): evict() then stops at the first live entry, instead of
 * walking every entry each time it is called (every 5 s of event time: over a month of a busy domain
 * controller's logons, billions of steps). A time that goes backwards (a late event) marks the order
 * unsure; the next evict() walks everything and sorts what is left.
 */
export class TtlMap<V> {
  private readonly m = new Map<string, { v: V; last: number }>();
  /** The latest time an entry was set or touched at. */
  private latest = -Infinity;
  /** Whether the entries are in the order of their `last`. */
  private sorted = true;
  constructor(readonly ttlMs: number, private readonly maxEntries = 200_000) {}

  get(key: string): V | undefined {
    return this.m.get(key)?.v;
  }

  set(key: string, v: V, now: number): void {
    const e = this.m.get(key);
    if (e) { e.v = v; this.bump(key, e, now); return; }
    if (this.m.size >= this.maxEntries) {
      // Bounded: drop the entry touched longest ago (the first).
      const first = this.m.keys().next().value;
      if (first !== undefined) this.m.delete(first);
    }
    this.m.set(key, { v, last: now });
    this.saw(now);
  }

  touch(key: string, now: number): void {
    const e = this.m.get(key);
    if (e) this.bump(key, e, now);
  }

  /** A later touch moves the entry to the end. */
  private bump(key: string, e: { v: V; last: number }, now: number): void {
    if (now <= e.last) return;
    e.last = now;
    this.m.delete(key);
    this.m.set(key, e);
    this.saw(now);
  }

  private saw(now: number): void {
    if (now < this.latest) this.sorted = false;
    else this.latest = now;
  }

  delete(key: string): void {
    this.m.delete(key);
  }

  /** Removes and returns entries idle past the TTL at `now`. */
  evict(now: number): V[] {
    const out: V[] = [];
    if (this.sorted) {
      for (const [k, e] of this.m) {
        if (e.last + this.ttlMs >= now) break;
        out.push(e.v);
        this.m.delete(k);
      }
      return out;
    }
    const keep: [string, { v: V; last: number }][] = [];
    for (const [k, e] of this.m) {
      if (e.last + this.ttlMs < now) out.push(e.v);
      else keep.push([k, e]);
    }
    keep.sort((a, b) => a[1].last - b[1].last);
    this.m.clear();
    for (const [k, e] of keep) this.m.set(k, e);
    this.sorted = true;
    return out;
  }

  values(): IterableIterator<V> {
    return [...this.m.values()].map((e) => e.v)[Symbol.iterator]();
  }

  get size(): number {
    return this.m.size;
  }
}
