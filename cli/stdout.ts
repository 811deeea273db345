// Batched writes to stdout with backpressure; a closed pipe (`| head`) ends output quietly.

import type { Writable } from 'node:stream';

export class StdoutWriter {
  private buf: string[] = [];
  private size = 0;
  private closed = false;

  constructor(private readonly out: Writable, private readonly batch = 1 << 16) {
    out.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') this.closed = true;
      else throw e;
    });
  }

  /** Queues text; resolves false once the reader has gone away. */
  async write(s: string): Promise<boolean> {
    if (this.closed) return false;
    this.buf.push(s);
    this.size += s.length;
    if (this.size >= this.batch) await this.flush();
    return !this.closed;
  }

  async flush(): Promise<void> {
    if (this.buf.length === 0 || this.closed) return;
    const s = this.buf.join('');
    this.buf = [];
    this.size = 0;
    if (!this.out.write(s)) {
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
  }

  async end(): Promise<void> {
    await this.flush();
  }
}
