// A small pool of worker threads that parse chunks; callers keep their own order (one promise per chunk).
// Chunks and JSON lines cross threads in shared memory, never by transfer: the first ArrayBuffer a thread
// detaches (a transfer does) makes V8's optimized code check every typed array access for detachment from
// then on, which cost the parser ~20% on the workers and on this thread alike.

import { Worker } from 'node:worker_threads';
import { CHUNK_SIZE, type ChunkBatch, type ChunkOptions, type SerializeFormat } from './chunk.js';
import { ownCopy } from './jsonout.js';

interface Pending {
  resolve: (batch: ChunkBatch) => void;
  reject: (e: Error) => void;
  /** The chunk's memory, free again once answered. */
  buf: SharedArrayBuffer;
}

export interface ChunkJob {
  id: number;
  buf: SharedArrayBuffer;
  length: number;
  file: string;
  chunkIndex: number;
  offset: number;
  opts: ChunkOptions;
  serialize?: SerializeFormat;
  /** Memory to write the JSON lines into (given back by the pool's user). */
  out?: SharedArrayBuffer;
}

/** Output memory larger than this is not kept for reuse (a chunk's lines are rarely above 1 MiB). */
const OUT_KEEP_MAX = 1 << 20;

export class WorkerPool {
  private readonly workers: Worker[] = [];
  private readonly load: number[] = [];
  private readonly pending = new Map<number, Pending & { worker: number }>();
  private nextId = 0;
  /** Chunks sent and not yet answered. */
  inFlight = 0;
  /** Workers that have loaded the parser (before that, a chunk sent to one waits for its start-up). */
  ready = 0;
  /** Chunks answered so far. */
  answered = 0;
  /** Chunk-sized memory answered chunks were in, to copy the next chunks into. */
  private readonly spare: SharedArrayBuffer[] = [];
  /** Output memory the workers' JSON lines were copied out of, sent with the next chunks to write into. */
  private readonly spareOut: SharedArrayBuffer[] = [];

  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) {
      // Small heaps: a worker holds one chunk's records at a time, and every worker's heap counts in RSS.
      const w = new Worker(new URL('./worker.js', import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 64 } });
      w.on('message', (m: { id: number; batch: ChunkBatch; ready?: boolean }) => {
        if (m.ready) {
          this.ready++;
          return;
        }
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (p.buf.byteLength === CHUNK_SIZE && this.spare.length < 64) this.spare.push(p.buf);
        this.load[p.worker]--;
        this.inFlight--;
        this.answered++;
        // JSON lines in the worker's shared memory: copied out, and the memory goes back with the next chunk.
        const bytes = m.batch.bytes as Uint8Array | undefined;
        if (bytes !== undefined) {
          m.batch.bytes = ownCopy(bytes);
          const sab = bytes.buffer;
          if (sab instanceof SharedArrayBuffer && bytes.byteOffset === 0 && sab.byteLength <= OUT_KEEP_MAX && this.spareOut.length < 8) this.spareOut.push(sab);
        }
        p.resolve(m.batch);
      });
      w.on('error', (e) => this.failAll(i, e));
      this.workers.push(w);
      this.load.push(0);
    }
  }

  parse(block: Buffer, file: string, chunkIndex: number, offset: number, opts: ChunkOptions, serialize?: SerializeFormat): Promise<ChunkBatch> {
    const buf = (block.length <= CHUNK_SIZE ? this.spare.pop() : undefined) ?? new SharedArrayBuffer(Math.max(block.length, CHUNK_SIZE));
    block.copy(Buffer.from(buf, 0, block.length));
    let w = 0;
    for (let i = 1; i < this.workers.length; i++) if (this.load[i] < this.load[w]) w = i;
    const id = this.nextId++;
    this.load[w]++;
    this.inFlight++;
    const out = serialize === 'jsonl' ? this.spareOut.pop() : undefined;
    const job: ChunkJob = { id, buf, length: block.length, file, chunkIndex, offset, opts, serialize, out };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker: w, buf });
      this.workers[w].postMessage(job);
    });
  }

  private failAll(worker: number, e: Error): void {
    for (const [id, p] of this.pending) {
      if (p.worker !== worker) continue;
      this.pending.delete(id);
      p.reject(e);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
