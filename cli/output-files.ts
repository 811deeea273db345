// The files a command writes, failing cleanly: an output that cannot be made or written (a path through a
// file, a read-only or full disk) is an OutputError naming the path and the reason, which the command
// reports in one line (cli/main.ts), instead of an unhandled stream error or a wait for ever.
import { createWriteStream, lstatSync, unlinkSync, type WriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

export class OutputError extends Error {
  constructor(readonly path: string, reason: string) {
    super(`cannot write ${path}: ${reason}`);
    this.name = 'OutputError';
  }
}

/** What an fs error says, without its stack: `ENOSPC: no space left on device, write`. */
export function reasonOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Makes a directory and its missing parents. By hand rather than mkdir's `recursive`: Node 20's recursive
 * mkdir loops for ever where a parent exists and mkdir still answers ENOENT (under /proc).
 */
export async function makeDir(dir: string): Promise<void> {
  const path = resolve(dir);
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw new OutputError(dir, reasonOf(e));
  });
  if (st !== undefined) {
    if (!st.isDirectory()) throw new OutputError(dir, 'it exists and is not a directory');
    return;
  }
  const parent = dirname(path);
  if (parent !== path) await makeDir(parent);
  try {
    await mkdir(path);
  } catch (e) {
    // Made meanwhile by someone else: fine if it is a directory now.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST' && (await stat(path).catch(() => undefined))?.isDirectory()) return;
    throw new OutputError(dir, reasonOf(e));
  }
}

/**
 * Removes the previous run's file at `path`, if it is a regular file, so that the output is a new file
 * rather than the old one truncated. ext4 starts writing back all of a file that was truncated and written
 * again when it is closed (its auto_da_alloc heuristic for replace-via-truncate): hunt's events.ndjson over
 * ../shared (190 MB) took 88 ms to close into an existing --out, 0 ms into a new one. A reader still holding
 * the old file keeps it whole. Anything else there (a symlink, a FIFO, /dev/null) is left to be opened.
 */
export function replaceFile(path: string): void {
  try {
    if (lstatSync(path).isFile()) unlinkSync(path);
  } catch {
    // Nothing there (the usual case), or it cannot be removed: the open that follows reports what matters.
  }
}

/** A text file written in 64 KiB batches, honouring back-pressure; a write failure is an OutputError. */
export class OutputFile {
  private buf: string[] = [];
  private size = 0;
  private failure: OutputError | undefined;
  /** Wakes a writer waiting for 'drain' when the stream fails instead. */
  private wake: (() => void) | undefined;

  private constructor(readonly path: string, private readonly s: WriteStream) {
    s.on('error', (e) => {
      this.failure ??= new OutputError(path, reasonOf(e));
      this.wake?.();
    });
  }

  /** Creates the file (a previous run's is replaced): an OutputError when it cannot be. */
  static async open(path: string): Promise<OutputFile> {
    replaceFile(path);
    const s = createWriteStream(path);
    await new Promise<void>((ok, fail) => {
      s.once('open', () => ok());
      s.once('error', (e) => fail(new OutputError(path, reasonOf(e))));
    });
    return new OutputFile(path, s);
  }

  async write(text: string): Promise<void> {
    if (this.failure) throw this.failure;
    this.buf.push(text);
    this.size += text.length;
    if (this.size >= 1 << 16) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.buf.length === 0) return;
    const ok = this.s.write(this.buf.join(''));
    this.buf = [];
    this.size = 0;
    if (!ok) {
      await new Promise<void>((r) => {
        this.wake = r;
        this.s.once('drain', r);
      });
      this.wake = undefined;
    }
    if (this.failure) throw this.failure;
  }

  async end(): Promise<void> {
    await this.flush();
    await new Promise<void>((r) => {
      this.wake = r;
      this.s.end(() => r());
    });
    if (this.failure) throw this.failure;
  }
}

/**
 * Writes text to standard output and waits until it is written: a failure (a full disk) is an OutputError;
 * a reader that went away (EPIPE) is not one, the output just ends.
 */
export function writeStdout(text: string): Promise<void> {
  return new Promise<void>((ok, fail) => {
    const failed = (e: NodeJS.ErrnoException): void => {
      if (e.code === 'EPIPE') ok();
      else fail(new OutputError('standard output', reasonOf(e)));
    };
    process.stdout.once('error', failed);
    process.stdout.write(text, (e) => {
      if (e) return;
      process.stdout.off('error', failed);
      ok();
    });
  });
}
