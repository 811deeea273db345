// A small pool of worker threads that parse chunks; callers keep their own order (one promise per chunk).

import { Worker } from 'node:worker_threads';
import { CHUNK_SIZE, type ChunkBatch, type ChunkOptions, type SerializeFormat } from './chunk.js';

interface Pending {
  resolve: (batch: ChunkBatch) => void;
  reject: (e: Error) => void;
}

export interface ChunkJob {
  id: number;
  buf: ArrayBuffer;
  length: number;
  file: string;
  chunkIndex: number;
  offset: number;
  opts: ChunkOptions;
  serialize?: SerializeFormat;
  /** Memory to write the JSON lines into (given back by the pool's user). */
  out?: ArrayBuffer;
}

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
  /** Chunk-sized memory the workers gave back, to copy chunks into. */
  private readonly spare: ArrayBuffer[] = [];
  /** Output memory given back (giveBack), sent with the next chunks for the workers to write into. */
  private readonly spareOut: ArrayBuffer[] = [];

  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) {
      // Small heaps: a worker holds one chunk's records at a time, and every worker's heap counts in RSS.
      const w = new Worker(new URL('./worker.js', import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 64 } });
      w.on('message', (m: { id: number; batch: ChunkBatch; buf?: ArrayBuffer; ready?: boolean }) => {
        if (m.ready) {
          this.ready++;
          return;
        }
        if (m.buf !== undefined && m.buf.byteLength === CHUNK_SIZE && this.spare.length < 64) this.spare.push(m.buf);
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        this.load[p.worker]--;
        this.inFlight--;
        this.answered++;
        // A transferred Buffer arrives as a plain Uint8Array.
        const bytes = m.batch.bytes;
        if (bytes !== undefined && !Buffer.isBuffer(bytes)) m.batch.bytes = Buffer.from((bytes as Uint8Array).buffer, (bytes as Uint8Array).byteOffset, (bytes as Uint8Array).byteLength);
        p.resolve(m.batch);
      });
      w.on('error', (e) => this.failAll(i, e));
      this.workers.push(w);
      this.load.push(0);
    }
  }

  parse(block: Buffer, file: string, chunkIndex: number, offset: number, opts: ChunkOptions, serialize?: SerializeFormat): Promise<ChunkBatch> {
    // Transfer the bytes; copy first (into memory a worker gave back, when there is some) when the Buffer
    // is a view into a larger allocation.
    let own = block;
    if (block.byteOffset !== 0 || block.byteLength !== block.buffer.byteLength) {
      const spare = block.length <= CHUNK_SIZE ? this.spare.pop() : undefined;
      own = spare !== undefined ? Buffer.from(spare, 0, block.length) : Buffer.allocUnsafeSlow(block.length);
      block.copy(own);
    }
    const buf = own.buffer as ArrayBuffer;
    let w = 0;
    for (let i = 1; i < this.workers.length; i++) if (this.load[i] < this.load[w]) w = i;
    const id = this.nextId++;
    this.load[w]++;
    this.inFlight++;
    const out = serialize === 'jsonl' ? this.spareOut.pop() : undefined;
    const job: ChunkJob = { id, buf, length: own.byteLength, file, chunkIndex, offset, opts, serialize, out };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker: w });
      this.workers[w].postMessage(job, out !== undefined ? [buf, out] : [buf]);
    });
  }

  /** Memory of JSON lines a worker made, written out and no longer needed: the workers reuse it. */
  giveBack(b: Buffer): boolean {
    const ab = b.buffer;
    if (!(ab instanceof ArrayBuffer) || b.byteOffset !== 0 || ab.byteLength < 256 << 10 || ab.byteLength > 1 << 20 || this.spareOut.length >= 8) return false;
    if (this.spareOut.includes(ab)) return true;
    this.spareOut.push(ab);
    return true;
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
