// Decoding for the stream on worker threads: JSON parse, format detection and normalization of a batch,
// in slices of SLICE messages, each cut into chunks over the workers, while the consumer's thread runs
// the detectors on the batch before. Knowledge learned online (clocks, FQDNs) stays deterministic: every
// slice is read first and what it teaches comes back as a delta; deltas are merged here in the order the
// slices were submitted and sent on to every worker in that order, and a slice is normalized only after
// its own delta, wherever it runs. So slice k is normalized with what slices 0..k taught, as on one
// thread (ingest/kafka/batch.ts). With two or more workers, a slice smaller than `minBatch` is decoded on
// this thread (a message round trip costs more); one worker decodes every slice alone, learning each
// delta itself in order (DecodePool.solo).
import { availableParallelism } from 'node:os';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { type ClockKnowledge, type KnowledgeSnapshot } from '../normalize/clock.js';
import { Normalizer } from '../normalize/index.js';
import { joinBatches, joinDeltas, normalizeChunk, parseChunk, type DecodedBatch, type Learned, type Ship } from './batch.js';
import { TaughtTracker } from './decode.js';

export interface DecoderSetup { ingested: string; maxBytes: number; ship: Ship }

export type ToDecoder =
  | { type: 'setup'; setup: DecoderSetup }
  /** Replaces the worker's knowledge (the first message after a restore, or when it starts late). */
  | { type: 'knowledge'; snap: KnowledgeSnapshot }
  | { type: 'learn'; delta: KnowledgeSnapshot }
  /** Message values packed end to end; ends[i] < 0: a null value. */
  | { type: 'parse'; id: number; topic: string; partition: number; offsets: string[]; bytes: Uint8Array; ends: Int32Array }
  | { type: 'normalize'; id: number }
  /** One worker alone: read, learn into its own knowledge, normalize, in one go (DecodePool.solo). */
  | { type: 'decode'; id: number; topic: string; partition: number; offsets: string[]; bytes: Uint8Array; ends: Int32Array };

export type FromDecoder =
  | { type: 'learned'; id: number; learned: Learned }
  | { type: 'decoded'; id: number; batch: DecodedBatch; learned?: Learned }
  | { type: 'failed'; message: string };

export interface DecodePoolOptions {
  /** Worker threads; 0 decodes everything on this thread. Default defaultDecodeThreads(). */
  threads?: number;
  /** With two or more threads, batches with fewer messages are decoded on this thread. Default 256. */
  minBatch?: number;
  maxBytes: number;
  ship: Ship;
  /** This thread's knowledge: deltas are merged into it, and it is what the state topic keeps. */
  knowledge: ClockKnowledge;
  ingested?: string;
}

export interface BatchIn { topic: string; partition: number; offsets: string[]; values: (Uint8Array | null)[] }

/**
 * A fetched batch's messages not yet processed (after `processed`, the newest offset done for its
 * partition), and their decoding, started at once so it runs while earlier batches are handled.
 */
export function startDecoding<M extends { offset: string; value: Buffer | null }>(pool: DecodePool, batch: { topic: string; partition: number; messages: M[] }, processed: ReadonlyMap<string, number>): { todo: M[]; decoded: Promise<DecodedBatch> | undefined } {
  // A batch of a partition comes only once the one before it is handled: `processed` is up to date.
  const skip = processed.get(`${batch.topic}/${batch.partition}`) ?? -1;
  const todo = batch.messages.filter((m) => Number(m.offset) > skip);
  const decoded = todo.length === 0 ? undefined : pool.decode({ topic: batch.topic, partition: batch.partition, offsets: todo.map((m) => m.offset), values: todo.map((m) => m.value) });
  decoded?.catch(() => undefined);
  return { todo, decoded };
}

/**
 * The cores less the consumer's thread (fetch, detectors, producer), at most 4; none below 3 cores. One
 * worker decodes every slice alone (DecodePool.solo): about an eighth more CPU in all than decoding on
 * the consumer's thread, whose CPU it halves (bench/stream: 2.0 -> 1.0 s per 100k events). But kafkajs
 * fetches again only once a fetch's batches are handled, so the worker and the consumer's thread mostly
 * take turns: on 2 cores bench/stream is about a tenth slower with it when the machine is otherwise
 * idle (49-52k against 46-48k events/s), and faster only when other processes compete for the cores
 * (two threads get a larger share: at load 10, 26k against 10-21k). Two or more workers still exchange
 * each slice's knowledge through this thread (a round trip between reading and normalizing, during
 * which a worker holds the slice's objects: a quarter more CPU or worse).
 */
export function defaultDecodeThreads(): number {
  const cores = availableParallelism();
  return cores >= 3 ? Math.min(4, cores - 1) : 0;
}

/**
 * Messages decoded as one unit, wherever they run: a fetched batch (thousands of messages, megabytes)
 * is read and normalized a slice at a time, so its parsed objects die young instead of outliving a
 * scavenge or two and being promoted (bench/stream: 35-36k -> 37-41k events/s, main thread CPU -10%).
 */
const SLICE = 256;
/**
 * Shared memory a chunk's message bytes go to the worker in, reused once the worker has read them: a new
 * buffer per chunk, cloned again on the worker's side, was 2 x 230 MB of external memory per 100k sd2
 * messages (CPU of the other threads: 2.65 -> 2.40 s, decode rate +6%, with one worker, no Kafka). What
 * is left of the worker's extra cost is its parsed chunks, held across scavenges until their knowledge
 * comes (decoded here: 0.25 s on the other threads).
 */
const SPARE_BYTES = 1 << 20;
const SPARE_MAX = 24;
/** Messages per chunk below which a batch is not cut further. */
const MIN_CHUNK = 128;
/** A worker holds a chunk or a few (4 MiB per partition fetched) and its parsed objects. */
const LIMITS: ResourceLimits = { maxOldGenerationSizeMb: 512, maxYoungGenerationSizeMb: 32 };

interface Pending { learned: (l: Learned) => void; decoded: (b: DecodedBatch, l?: Learned) => void; fail: (e: Error) => void; buf?: SharedArrayBuffer }
interface Slot { worker: Worker; pending: Map<number, Pending> }

export class DecodePool {
  readonly tracker = new TaughtTracker();
  /** Slices decoded (SLICE messages at most), and how many of them on workers. */
  readonly stats = { slices: 0, onWorkers: 0 };
  private readonly norm: Normalizer;
  private readonly setup: DecoderSetup;
  private readonly threads: number;
  private readonly minBatch: number;
  private slots: Slot[] = [];
  private readonly spare: SharedArrayBuffer[] = [];
  private synced = false;
  private order: Promise<unknown> = Promise.resolve();
  private nextId = 0;
  private turn = 0;
  private failure: Error | undefined;

  constructor(private readonly o: DecodePoolOptions) {
    this.setup = { ingested: o.ingested ?? new Date().toISOString(), maxBytes: o.maxBytes, ship: o.ship };
    this.norm = new Normalizer({ ingested: this.setup.ingested, knowledge: o.knowledge });
    this.threads = o.threads ?? defaultDecodeThreads();
    this.minBatch = Math.max(1, o.minBatch ?? 256);
  }

  /** Decodes a batch; slices are normalized in the order of these calls (see the file comment). */
  decode(b: BatchIn): Promise<DecodedBatch> {
    if (b.values.length <= SLICE) return this.slice(b);
    const parts: Promise<DecodedBatch>[] = [];
    for (let from = 0; from < b.values.length; from += SLICE) {
      const to = Math.min(b.values.length, from + SLICE);
      parts.push(this.slice({ topic: b.topic, partition: b.partition, offsets: b.offsets.slice(from, to), values: b.values.slice(from, to) }));
    }
    return Promise.all(parts).then(joinBatches);
  }

  /** One slice of a batch: the unit whose knowledge delta is merged before it is normalized. */
  private slice(b: BatchIn): Promise<DecodedBatch> {
    this.stats.slices++;
    if (this.threads === 1 && !this.failure) {
      this.stats.onWorkers++;
      return this.solo(b);
    }
    if (this.threads === 0 || b.values.length < this.minBatch || this.failure) return this.here(b);
    this.stats.onWorkers++;
    return this.there(b);
  }

  /**
   * One worker decodes every slice, so it learns every delta itself, in order: it normalizes a slice
   * right after reading it (no round trip for the knowledge, so its parsed objects die young, as here),
   * and this thread merges the deltas as the slices come back (in order: one worker answers in order).
   * Small slices go there too: one here would have to reach the worker's knowledge before the next.
   */
  private solo(b: BatchIn): Promise<DecodedBatch> {
    if (this.slots.length === 0) this.spawn();
    const slot = this.slots[0];
    if (!this.synced) {
      // What this thread knows (a restore, or slices decoded here before) goes first, once.
      this.send(slot, { type: 'knowledge', snap: this.o.knowledge.snapshot() });
      this.synced = true;
    }
    const id = this.nextId++;
    const decoded = new Promise<DecodedBatch>((resolve, reject) => {
      const p: Pending = {
        learned: () => undefined,
        decoded: (batch, l) => {
          if (p.buf?.byteLength === SPARE_BYTES && this.spare.length < SPARE_MAX) this.spare.push(p.buf);
          if (l) this.note(l);
          resolve(batch);
        },
        fail: reject,
      };
      if (slot.pending.size === 0) slot.worker.ref();
      slot.pending.set(id, p);
      const { bytes, ends, buf } = this.pack(b.values);
      p.buf = buf;
      slot.worker.postMessage({ type: 'decode', id, topic: b.topic, partition: b.partition, offsets: b.offsets, bytes, ends } satisfies ToDecoder);
    });
    decoded.catch(() => undefined);
    return decoded;
  }

  /** Values packed end to end in shared memory (a spare buffer when they fit). */
  private pack(values: readonly (Uint8Array | null)[]): { bytes: Uint8Array; ends: Int32Array; buf: SharedArrayBuffer } {
    let size = 0;
    for (const v of values) size += v?.length ?? 0;
    const buf = size <= SPARE_BYTES ? this.spare.pop() ?? new SharedArrayBuffer(SPARE_BYTES) : new SharedArrayBuffer(size);
    const bytes = new Uint8Array(buf, 0, size), ends = new Int32Array(values.length);
    let at = 0;
    values.forEach((v, i) => {
      if (v === null) { ends[i] = -1; return; }
      bytes.set(v, at);
      at += v.length;
      ends[i] = at;
    });
    return { bytes, ends, buf };
  }

  async close(): Promise<void> {
    const slots = this.slots;
    this.slots = [];
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private here(b: BatchIn): Promise<DecodedBatch> {
    const r = this.order.then(() => {
      const { parsed, learned } = parseChunk(b.values, b.topic, this.setup.maxBytes, this.setup.ship);
      this.apply(learned.delta, [learned]);
      return normalizeChunk(this.norm, parsed, b.topic, b.partition, b.offsets, this.setup.ship);
    });
    this.order = r.catch(() => undefined);
    return r;
  }

  private there(b: BatchIn): Promise<DecodedBatch> {
    if (this.slots.length === 0) this.spawn();
    const n = Math.max(1, Math.min(this.slots.length, Math.floor(b.values.length / MIN_CHUNK)));
    const chunks: { slot: Slot; id: number; learned: Promise<Learned>; decoded: Promise<DecodedBatch> }[] = [];
    for (let c = 0; c < n; c++) {
      const from = Math.floor((c * b.values.length) / n), to = Math.floor(((c + 1) * b.values.length) / n);
      const slot = this.slots[this.turn++ % this.slots.length];
      const id = this.nextId++;
      let p!: Pending;
      const learned = new Promise<Learned>((resolve, reject) => { p = { learned: resolve, decoded: () => undefined, fail: reject }; });
      const decoded = new Promise<DecodedBatch>((resolve, reject) => {
        const fail = p.fail;
        p.decoded = resolve;
        p.fail = (e) => { fail(e); reject(e); };
      });
      learned.catch(() => undefined);
      decoded.catch(() => undefined);
      if (slot.pending.size === 0) slot.worker.ref();
      slot.pending.set(id, p);
      const { bytes, ends, buf } = this.pack(b.values.slice(from, to));
      p.buf = buf;
      const m: ToDecoder = { type: 'parse', id, topic: b.topic, partition: b.partition, offsets: b.offsets.slice(from, to), bytes, ends };
      // Shared, not transferred, as everywhere in hoptrail: the first buffer a thread detaches makes V8's
      // optimized code check every typed-array access of that thread (ingest/evtx/pool.ts).
      slot.worker.postMessage(m);
      chunks.push({ slot, id, learned, decoded });
    }
    const ready = Promise.all([this.order, Promise.all(chunks.map((c) => c.learned))]).then(([, ls]) => {
      this.apply(joinDeltas(ls), ls);
      for (const c of chunks) this.send(c.slot, { type: 'normalize', id: c.id });
    });
    this.order = ready.catch(() => undefined);
    return ready.then(() => Promise.all(chunks.map((c) => c.decoded))).then(joinBatches);
  }

  /** A slice's delta, learned by the one worker already: into this thread's knowledge. */
  private note(l: Learned): void {
    this.o.knowledge.merge(l.delta);
    for (const c of l.computers) this.tracker.note(c, false);
    if (l.clock) this.tracker.taught = true;
  }

  /** A batch's delta, in batch order: into this thread's knowledge, then to every worker. */
  private apply(delta: KnowledgeSnapshot, ls: readonly Learned[]): void {
    this.o.knowledge.merge(delta);
    for (const l of ls) {
      for (const c of l.computers) this.tracker.note(c, false);
      if (l.clock) this.tracker.taught = true;
    }
    if (this.slots.length === 0) return;
    // Workers started after earlier batches (or a restore) get the whole of it once, then deltas.
    const m: ToDecoder = this.synced ? { type: 'learn', delta } : { type: 'knowledge', snap: this.o.knowledge.snapshot() };
    this.synced = true;
    for (const s of this.slots) this.send(s, m);
  }

  private send(s: Slot, m: ToDecoder): void {
    s.worker.postMessage(m);
  }

  private spawn(): void {
    for (let i = 0; i < this.threads; i++) {
      const worker = new Worker(new URL('./decode-worker.js', import.meta.url), { resourceLimits: LIMITS });
      const slot: Slot = { worker, pending: new Map() };
      worker.on('message', (m: FromDecoder) => {
        if (m.type === 'failed') return this.fail(new Error(`decoding worker failed: ${m.message}`));
        const p = slot.pending.get(m.id);
        if (!p) return;
        if (m.type === 'learned') {
          // Read: the worker holds strings made from the bytes, never the bytes.
          if (p.buf?.byteLength === SPARE_BYTES && this.spare.length < SPARE_MAX) this.spare.push(p.buf);
          p.buf = undefined;
          p.learned(m.learned);
        }
        else {
          slot.pending.delete(m.id);
          if (slot.pending.size === 0) slot.worker.unref();
          p.decoded(m.batch, m.learned);
        }
      });
      worker.on('error', (e) => this.fail(new Error(`decoding worker failed: ${e.stack ?? e.message}`)));
      worker.on('exit', (code) => { if (this.slots.includes(slot)) this.fail(new Error(`decoding worker exited (${code})`)); });
      // A worker keeps the process alive only while it has work (ref'd then): an idle one must not.
      worker.unref();
      worker.postMessage({ type: 'setup', setup: this.setup } satisfies ToDecoder);
      this.slots.push(slot);
    }
    this.synced = false;
  }

  /**
   * A worker broke (a bug, out of memory): the batches in flight fail (their consumer batch is retried
   * from the last commit), and later batches are decoded on this thread, whose knowledge is complete.
   */
  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    const slots = this.slots;
    this.slots = [];
    for (const s of slots) {
      for (const p of s.pending.values()) p.fail(e);
      void s.worker.terminate();
    }
  }

  /** Why the workers were given up, if they were. */
  get broken(): Error | undefined {
    return this.failure;
  }
}
