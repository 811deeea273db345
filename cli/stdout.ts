// Output to stdout: UTF-8 bytes (as the EVTX parser makes JSON lines) or text, small pieces batched, with
// backpressure; a closed pipe (`| head`) ends output quietly, any other failure (a full disk) is an
// OutputError from the next write.

import type { Writable } from 'node:stream';
import { OutputError, reasonOf } from './output-files.js';

export class StdoutWriter {
  private pending: Buffer[] = [];
  private size = 0;
  private closed = false;
  private failure: OutputError | undefined;
  /** Takes back the memory of each piece once written (the EVTX parser reuses it). */
  release: ((b: Buffer) => void) | undefined;

  constructor(private readonly out: Writable, private readonly batch = 1 << 16) {
    out.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') this.failure ??= new OutputError('standard output', reasonOf(e));
      this.closed = true;
    });
  }

  /** Queues a piece; resolves false once the reader has gone away. */
  async write(piece: Buffer | string): Promise<boolean> {
    if (this.failure) throw this.failure;
    if (this.closed) return false;
    const b = typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece;
    if (b.length === 0) return true;
    this.pending.push(b);
    this.size += b.length;
    if (this.size >= this.batch) await this.flush();
    return !this.closed;
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0 || this.closed) return;
    const b = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.size);
    if (this.pending.length > 1 && this.release) for (const p of this.pending) this.release(p);
    this.pending = [];
    this.size = 0;
    const written = (e?: Error | null) => {
      if (!e) this.release?.(b);
    };
    if (!this.out.write(b, written)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.out.off('drain', done);
          this.out.off('close', done);
          resolve();
        };
        this.out.on('drain', done);
        this.out.on('close', done);
      });
    }
    if (this.failure) throw this.failure;
  }

  async end(): Promise<void> {
    await this.flush();
    if (this.failure) throw this.failure;
  }
}
