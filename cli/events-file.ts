// hunt's DIR/events.ndjson: written as the workers' batches arrive, and read back line by line for the
// batch engine (detectors/engine.ts StoredLine).
import { closeSync, openSync, readSync, write as fsWrite } from 'node:fs';
import type { StoredLine } from '../detectors/engine.js';
import { OutputError, reasonOf, replaceFile } from './output-files.js';

/** Batches being written at once. */
const MAX_PENDING_WRITES = 4;

/**
 * DIR/events.ndjson: the workers' batches, written by the thread pool (positional writes, a few in flight)
 * while this thread goes on. The batch engine holds where its events' lines are here, not the events
 * (their text was most of this thread's heap); a line still being written is read from its batch.
 */
export class EventsFile {
  private readonly fd: number;
  private pos = 0;
  /** Batches not yet on disk, by file position. */
  private readonly pending = new Map<number, Uint8Array>();
  private failed: Error | undefined;
  private waiter: (() => void) | undefined;
  constructor(private readonly path: string) {
    try {
      replaceFile(path);
      this.fd = openSync(path, 'w+');
    } catch (e) {
      throw new OutputError(path, reasonOf(e));
    }
  }

  /** Appends bytes (kept until written, then `written` is called); returns the file position they start at. */
  async write(b: Uint8Array, written?: () => void): Promise<number> {
    const at = this.pos;
    this.pos += b.byteLength;
    if (b.byteLength === 0) { written?.(); return at; }
    this.pending.set(at, b);
    this.writeFrom(at, b, 0, written);
    // Back-pressure: a few batches in flight at most.
    while (this.pending.size > MAX_PENDING_WRITES && !this.failed) await new Promise<void>((r) => { this.waiter = r; });
    if (this.failed) throw this.failed;
    return at;
  }

  private writeFrom(at: number, b: Uint8Array, off: number, written: (() => void) | undefined): void {
    fsWrite(this.fd, b, off, b.byteLength - off, at + off, (err, n) => {
      if (err) this.failed ??= new OutputError(this.path, reasonOf(err));
      else if (off + n < b.byteLength) return this.writeFrom(at, b, off + n, written);
      this.pending.delete(at);
      written?.();
      const w = this.waiter;
      this.waiter = undefined;
      w?.();
    });
  }

  /** The line at [start, end), read back when the engine processes its event. */
  line(start: number, end: number): StoredLine {
    return new LineAt(this, start, end);
  }

  /** The text of the line at [start, end) (from its batch while that is still being written). */
  read(start: number, end: number): string {
    for (const [at, b] of this.pending) {
      if (start >= at && end <= at + b.byteLength) return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8', start - at, end - at);
    }
    const b = Buffer.allocUnsafe(end - start);
    for (let off = 0; off < b.length;) {
      const n = readSync(this.fd, b, off, b.length - off, start + off);
      if (n === 0) throw new Error(`events.ndjson: line at ${start} cut short`);
      off += n;
    }
    return b.toString('utf8');
  }

  /** Waits for every write, then closes the file. */
  async close(): Promise<void> {
    while (this.pending.size > 0 && !this.failed) await new Promise<void>((r) => { this.waiter = r; });
    closeSync(this.fd);
    if (this.failed) throw this.failed;
  }
}

/**
 * A place in events.ndjson, as the batch engine holds it to the end: one small object, not a closure and
 * its context (a batch holds one per relevant event past its budget of objects; see cli/hunt.ts).
 */
class LineAt implements StoredLine {
  constructor(private readonly file: EventsFile, private readonly start: number, private readonly end: number) {}
  text(): string {
    return this.file.read(this.start, this.end);
  }
}
