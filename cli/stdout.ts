// Output to stdout (dump's records, normalize's events): text lines and UTF-8 bytes, small pieces batched,
// with backpressure; a closed pipe (`| head`) ends output quietly, any other failure (a full disk) is an
// OutputError from the next write.

import type { Writable } from 'node:stream';
import { OutputError, reasonOf } from './output-files.js';

/** Pieces are gathered up to this many bytes (or characters of text) before one write. */
const BATCH = 1 << 16;

export class StdoutWriter {
  private pending: Buffer[] = [];
  private size = 0;
  /** Text lines gathered as one string: appending is cheaper than a Buffer per line. */
  private text = '';
  private isClosed = false;
  private failure: OutputError | undefined;
  /** Takes back the memory of each Buffer piece once written (the EVTX parser reuses it). */
  release: ((b: Buffer) => void) | undefined;

  constructor(private readonly out: Writable) {
    out.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') this.failure ??= new OutputError('standard output', reasonOf(e));
      this.isClosed = true;
      // A write waiting for 'drain' must not wait for ever on a stream that failed.
      this.out.emit('drain');
    });
  }

  /** The reader went away (`| head`): writing stops, and the command finishes quietly. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Queues a piece of bytes (or text); resolves false once the reader has gone away. */
  async write(piece: Buffer | string): Promise<boolean> {
    if (this.failure) throw this.failure;
    if (this.isClosed) return false;
    if (typeof piece === 'string') {
      this.text += piece;
      if (this.text.length >= BATCH) await this.flush();
      return !this.isClosed;
    }
    if (piece.length === 0) return true;
    if (this.text !== '') this.queueText();
    this.pending.push(piece);
    this.size += piece.length;
    if (this.size >= BATCH) await this.flush();
    return !this.isClosed;
  }

  /** Queues one line of text (the newline is added). */
  writeLine(line: string): Promise<boolean> {
    return this.write(line + '\n');
  }

  /** Writes bytes as they are, after what is queued, without copying; `written` once the stream is done with them. */
  async writeBytes(b: Uint8Array, written: () => void): Promise<void> {
    await this.flush();
    if (this.isClosed) return written();
    await this.send(b, written);
  }

  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.text !== '') this.queueText();
    if (this.pending.length === 0) return;
    if (this.isClosed) {
      this.drop();
      return;
    }
    const b = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.size);
    if (this.pending.length > 1) this.drop();
    else {
      this.pending = [];
      this.size = 0;
    }
    await this.send(b, () => this.release?.(b));
  }

  async end(): Promise<void> {
    await this.flush();
    if (this.failure) throw this.failure;
  }

  private queueText(): void {
    const b = Buffer.from(this.text, 'utf8');
    this.text = '';
    this.pending.push(b);
    this.size += b.length;
  }

  /** Gives back the memory of the queued pieces (copied, or no longer to be written). */
  private drop(): void {
    if (this.release) for (const p of this.pending) this.release(p);
    this.pending = [];
    this.size = 0;
  }

  private async send(b: Uint8Array, written: () => void): Promise<void> {
    if (this.out.write(b, (e?: Error | null) => { if (!e) written(); })) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.out.off('drain', done);
        this.out.off('close', done);
        resolve();
      };
      this.out.on('drain', done);
      this.out.on('close', done);
    });
    if (this.failure) throw this.failure;
  }
}
