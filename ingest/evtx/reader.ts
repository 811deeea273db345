// EVTX file/stream -> async iterator of items, in file order, holding a few chunks at a time.
// Chunks are found by checking every 64 KiB block after the file header for the chunk signature: the
// header's chunk count is often stale on live systems and is never trusted.

import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { CHUNK_SIZE, isChunk, parseChunk, parseChunkBytes, parseChunkText, type ChunkBatch, type ChunkItem, type ChunkOptions, type SerializeFormat } from './chunk.js';
import type { EvtxErrorItem } from './record.js';
import { u16, u32 } from './values.js';
import { releaseBytes } from './jsonout.js';
// Loaded only to start workers: the thread module and the pool are a few ms of every start-up.
import type { WorkerPool } from './pool.js';

export const FILE_HEADER_SIZE = 0x1000;
const FILE_SIG = Buffer.from('ElfFile\0', 'latin1');

export interface ReadOptions extends ChunkOptions {
  /** Parse chunks on this many worker threads (order is preserved). 0 or 1: on this thread. */
  threads?: number;
  /** A pool to use instead of starting one (share it across files; the caller closes it). */
  pool?: WorkerPool;
  /** Name used in locations when reading a stream. */
  name?: string;
  /** Batches carry their records as text in this format (done on the workers when there are any). */
  serialize?: SerializeFormat;
  /** With serialize 'jsonl': the lines as UTF-8 bytes (`batch.bytes`) instead of a string (`batch.text`). */
  bytes?: boolean;
  /**
   * With a pool: this thread parses chunks too whenever the ready workers have two each waiting (and
   * while they start), so that a pool of N - 1 workers gives N parsing threads (one isolate fewer to
   * start, warm up and hold in memory).
   */
  parseOnMain?: boolean;
  /**
   * Chunks are not parsed: each comes as a batch of its own with the chunk's bytes (`batch.unparsed`, the
   * reader's own copy), in its place among the error items. The file header, stray blocks and the end
   * are judged here as always; no pool is used.
   */
  unparsed?: boolean;
}

export type EvtxReadItem = ChunkItem;

/** Checks the file header; returns warnings (never fatal: a dirty header must not hide the chunks). */
export function checkFileHeader(h: Buffer, file: string): EvtxErrorItem[] {
  const out: EvtxErrorItem[] = [];
  const warn = (offset: number, message: string) => out.push({ kind: 'error', severity: 'warning', loc: { file, chunk: -1, offset }, message });
  if (h.length < 128) {
    warn(0, `file header is truncated (${h.length} bytes)`);
    return out;
  }
  if (h.compare(FILE_SIG, 0, 8, 0, 8) !== 0) warn(0, 'file header signature is not "ElfFile"');
  const major = u16(h, 38), minor = u16(h, 36);
  if (major !== 3) warn(36, `unexpected format version ${major}.${minor}`);
  const stored = u32(h, 124);
  if (stored !== 0) {
    const actual = crc32(h.subarray(0, 120));
    if (actual !== stored) warn(124, `file header CRC32 mismatch (stored 0x${stored.toString(16)}, computed 0x${actual.toString(16)})`);
  }
  if ((u32(h, 120) & 1) !== 0) warn(120, 'file is marked dirty (not closed cleanly); later chunks may hold records the header does not count');
  return out;
}

const ZEROS = Buffer.alloc(CHUNK_SIZE);

function isZero(b: Buffer): boolean {
  return b.length <= ZEROS.length && b.equals(ZEROS.subarray(0, b.length));
}

/** The error for a 64 KiB block that is not a chunk; none for an all-zero block (space never used). */
export function strayBlock(block: Buffer, file: string, index: number, offset: number): EvtxErrorItem | undefined {
  if (isChunk(block) || isZero(block)) return undefined;
  return { kind: 'error', severity: 'error', loc: { file, chunk: index, offset }, message: `block at 0x${offset.toString(16)} has no chunk signature; skipped` };
}

/** Why an input is not EVTX at all, judged on its header and first block (null: none); else undefined. */
export function notEvtx(header: Buffer, first: Buffer | null): string | undefined {
  const sigOk = header.length >= 8 && header.compare(FILE_SIG, 0, 8, 0, 8) === 0;
  if (first === null) return sigOk ? undefined : 'not an EVTX file (too short)';
  return sigOk || isChunk(first) ? undefined : 'not an EVTX file (no file header signature and no chunk after it)';
}

/** Blocks of an EVTX input: the header, then each 64 KiB block with its index and file offset. */
interface BlockSource {
  header(): Promise<Buffer>;
  /** The next block (shorter at the end of input), or null at the end. */
  next(): Promise<Buffer | null>;
  close(): Promise<void>;
}

/** Reads ahead in large pieces, one read always in flight, so parsing never waits on a 64 KiB round trip. */
const READ_AHEAD = 16 * CHUNK_SIZE;

/**
 * Blocks are views into the piece read, and pieces are reused: a new 1 MiB buffer per read made glibc
 * raise its mmap threshold and keep the freed ones in its heap, so RSS grew with the input (dump of the
 * System log x20: 143 -> 163 MB with 2 threads; 120 MB with a fixed threshold). A consumer may still hold
 * the `keepBlocks` blocks before the one it asks for next (readEvtxChunks: its window), never older ones.
 */
async function fileSource(path: string, keepBlocks: number): Promise<BlockSource> {
  const fh = await open(path, 'r');
  // A pipe (a FIFO, a process substitution) cannot be read at an offset (ESPIPE) nor opened again: it is
  // read once, in order, from this very descriptor.
  if (!(await fh.stat().catch(() => undefined))?.isFile()) return streamSource(fh.createReadStream({ highWaterMark: READ_AHEAD }));
  // The piece in use, the one being read, and enough earlier ones to cover what the consumer keeps.
  const ring: Buffer[] = [];
  const ringSize = Math.ceil((keepBlocks * CHUNK_SIZE) / READ_AHEAD) + 2;
  let turn = 0;
  let pos = 0;
  const readAt = async (at: number, n: number, buf: Buffer): Promise<Buffer> => {
    let got = 0;
    while (got < n) {
      const { bytesRead } = await fh.read(buf, got, n - got, at + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  };
  const nextPiece = (): Buffer => {
    const i = turn++ % ringSize;
    return (ring[i] ??= Buffer.allocUnsafeSlow(READ_AHEAD));
  };
  let piece: Buffer = Buffer.alloc(0);
  let piecePos = 0;
  let ahead: Promise<Buffer> | null = null;
  return {
    header: async () => {
      const h = await readAt(0, FILE_HEADER_SIZE, Buffer.allocUnsafe(FILE_HEADER_SIZE));
      pos = h.length;
      ahead = readAt(pos, READ_AHEAD, nextPiece());
      return h;
    },
    next: async () => {
      if (piecePos >= piece.length) {
        if (ahead === null) return null;
        piece = await ahead;
        piecePos = 0;
        pos += piece.length;
        ahead = piece.length === READ_AHEAD ? readAt(pos, READ_AHEAD, nextPiece()) : null;
        if (piece.length === 0) return null;
      }
      const end = Math.min(piece.length, piecePos + CHUNK_SIZE);
      const block = piece.subarray(piecePos, end);
      piecePos = end;
      return block;
    },
    close: async () => {
      await ahead?.catch(() => undefined);
      await fh.close();
    },
  };
}

function streamSource(stream: AsyncIterable<Buffer | string>): BlockSource {
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  let pending: Buffer[] = [];
  let have = 0;
  let done = false;
  // A stream that fails (a cut archive member) gives what came before first, then its error: the records
  // of a cut file are read as those of a short file would be.
  let failed: Error | undefined;
  const readN = async (n: number): Promise<Buffer> => {
    if (failed && have === 0) throw failed;
    while (have < n && !done) {
      let r: IteratorResult<Buffer | string>;
      try {
        r = await it.next();
      } catch (e) {
        failed = e as Error;
        done = true;
        if (have === 0) throw failed;
        break;
      }
      if (r.done) done = true;
      else {
        const chunk = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
        pending.push(chunk);
        have += chunk.length;
      }
    }
    const all = pending.length === 1 ? pending[0] : Buffer.concat(pending);
    const out = Buffer.from(all.subarray(0, Math.min(n, all.length)));
    const rest = all.subarray(out.length);
    pending = rest.length > 0 ? [rest] : [];
    have = rest.length;
    return out;
  };
  return {
    header: () => readN(FILE_HEADER_SIZE),
    next: async () => {
      const b = await readN(CHUNK_SIZE);
      if (b.length === 0 && failed) throw failed;
      return b.length === 0 ? null : b;
    },
    close: async () => {
      await it.return?.();
    },
  };
}

/**
 * Reads every record of an EVTX file or stream (a Readable, or any async iterable of bytes: an archive
 * member), in file order. Damage never throws: it becomes error
 * items (with file, chunk and offset), and reading goes on. An input that cannot be opened or is not
 * EVTX at all yields a single `fatal` error item.
 */
export async function* readEvtx(source: string | Readable | AsyncIterable<Buffer>, opts: ReadOptions = {}): AsyncGenerator<EvtxReadItem> {
  for await (const batch of readEvtxChunks(source, { ...opts, serialize: undefined })) yield* batch.items;
}

const single = (item: ChunkItem): ChunkBatch => ({ items: [item] });

/** As readEvtx, one batch per chunk: fewer awaits, and records optionally serialized (on the workers). */
export async function* readEvtxChunks(source: string | Readable | AsyncIterable<Buffer>, opts: ReadOptions = {}): AsyncGenerator<ChunkBatch> {
  const file = typeof source === 'string' ? source : (opts.name ?? '<stream>');
  const fatal = (offset: number, chunk: number, message: string): ChunkBatch => single({ kind: 'error', severity: 'fatal', loc: { file, chunk, offset }, message });
  let src: BlockSource;
  try {
    // Blocks this reader may still hold behind the one it reads: the window's (parsed here, or sent to a
    // worker and kept to parse here if its answer is late); the queue holds results, not blocks.
    src = typeof source === 'string' ? await fileSource(source, WINDOW) : streamSource(source);
  } catch (e) {
    yield fatal(0, -1, `cannot open: ${(e as Error).message}`);
    return;
  }
  const ownPool = !opts.unparsed && !opts.pool && (opts.threads ?? 0) > 1 ? new (await import('./pool.js')).WorkerPool(opts.threads!) : null;
  const pool = opts.unparsed ? null : opts.pool ?? ownPool;
  const threads = pool?.size ?? 0;
  const chunkOpts: ChunkOptions = { xml: opts.xml || opts.serialize === 'xml', recover: opts.recover, eventIds: opts.eventIds, generic: opts.generic };
  // JSON lines are made as bytes (on the workers too); a caller that wants text gets them decoded here.
  const asText = (batch: ChunkBatch): ChunkBatch => {
    if (batch.bytes === undefined || opts.bytes) return batch;
    const text = batch.bytes.toString('utf8');
    releaseBytes(batch.bytes);
    return { items: batch.items, text };
  };
  const parseHere = (block: Buffer, index: number, offset: number): ChunkBatch => {
    if (opts.serialize === 'jsonl') return asText(parseChunkBytes(block, file, index, offset, chunkOpts));
    return opts.serialize ? parseChunkText(block, file, index, offset, chunkOpts, opts.serialize) : { items: parseChunk(block, file, index, offset, chunkOpts) };
  };
  const parse = (block: Buffer, index: number, offset: number): Promise<ChunkBatch> =>
    // A file's blocks are views into pieces read again later; a stream's are copies already.
    opts.unparsed ? Promise.resolve({ items: [], unparsed: { bytes: typeof source === 'string' ? Buffer.from(block) : block, index, offset } }) :
    pool ? pool.parse(block, file, index, offset, chunkOpts, opts.serialize).then(asText) : Promise.resolve(parseHere(block, index, offset));
  const window = pool && opts.parseOnMain ? new MainAndWorkers(pool, (s, block) => parse(block, s.index, s.offset), (s, block) => parseHere(block, s.index, s.offset)) : null;
  try {
    let header: Buffer;
    try {
      header = await src.header();
    } catch (e) {
      yield fatal(0, -1, `cannot read: ${(e as Error).message}`);
      return;
    }
    const headerWarnings = checkFileHeader(header, file);
    let chunks = 0;
    let index = 0;
    let offset = FILE_HEADER_SIZE;
    // Chunks in flight, in file order: bounded, so memory holds a few chunks whatever the file size.
    const queue: Promise<ChunkBatch>[] = [];
    const maxInFlight = pool ? threads * 2 : 1;
    let first = true;
    let readFailed = false;
    while (true) {
      let block: Buffer | null;
      try {
        block = await src.next();
      } catch (e) {
        queue.push(Promise.resolve(fatal(offset, index, `read failed: ${(e as Error).message}`)));
        readFailed = true;
        break;
      }
      if (block === null) break;
      if (first) {
        first = false;
        const not = notEvtx(header, block);
        if (not !== undefined) {
          yield fatal(0, -1, not);
          return;
        }
        if (headerWarnings.length > 0) yield { items: headerWarnings };
      }
      const chunkIndex = index++;
      const chunkOffset = offset;
      offset += block.length;
      if (!isChunk(block)) {
        const stray = strayBlock(block, file, chunkIndex, chunkOffset);
        // Queued, not yielded, so that it keeps its place among chunks still being parsed.
        if (stray) queue.push(Promise.resolve(single(stray)));
      } else {
        chunks++;
        if (window) window.add({ batch: null, wait: null, block, index: chunkIndex, offset: chunkOffset });
        else queue.push(parse(block, chunkIndex, chunkOffset));
      }
      if (window) {
        // Errors queued before go into the window in their place.
        for (const q of queue.splice(0)) window.add({ batch: null, wait: q, block: null, index: -1, offset: -1 });
        while (window.size >= WINDOW) for (const b of await window.step()) yield b;
      }
      while (queue.length >= maxInFlight) yield await queue.shift()!;
    }
    if (window) {
      for (const q of queue.splice(0)) window.add({ batch: null, wait: q, block: null, index: -1, offset: -1 });
      while (window.size > 0) for (const b of await window.step()) yield b;
    }
    while (queue.length > 0) yield await queue.shift()!;
    // A read that failed said so already: the input's end is unknown, not empty.
    if (readFailed) return;
    if (first) {
      const not = notEvtx(header, null);
      yield not === undefined ? single({ kind: 'error', severity: 'warning', loc: { file, chunk: -1, offset: 0 }, message: 'file holds no chunks' }) : fatal(0, -1, not);
    } else if (chunks === 0) {
      yield single({ kind: 'error', severity: 'warning', loc: { file, chunk: -1, offset: 0 }, message: 'file holds no valid chunk' });
    }
  } finally {
    await ownPool?.close();
    await src.close().catch(() => undefined);
  }
}

/** Chunks held in order when this thread parses beside the workers (parseOnMain). */
const WINDOW = 32;

interface Slot {
  /** The result, once there is one. */
  batch: ChunkBatch | null;
  /** The result to come from a worker (or an error item queued in its place). */
  wait: Promise<ChunkBatch> | null;
  /** The chunk, while nobody has taken it. */
  block: Buffer | null;
  /** The chunk a worker has a copy of: this thread parses it itself rather than wait long. */
  sent?: Buffer | null;
  index: number;
  offset: number;
}

/**
 * A window of chunks in file order: this thread parses from its front and the workers are given chunks
 * from its back, so that a worker still starting or still cold is rarely waited for; results leave from
 * the front in order.
 */
class MainAndWorkers {
  private readonly slots: Slot[] = [];

  constructor(
    private readonly pool: WorkerPool,
    private readonly send: (s: Slot, block: Buffer) => Promise<ChunkBatch>,
    private readonly here: (s: Slot, block: Buffer) => ChunkBatch,
  ) {}

  get size(): number {
    return this.slots.length;
  }

  add(slot: Slot): void {
    if (slot.wait !== null) this.watch(slot, slot.wait);
    this.slots.push(slot);
    this.feed();
  }

  private watch(slot: Slot, wait: Promise<ChunkBatch>): void {
    slot.wait = wait;
    // A rejection is seen by whoever awaits `wait`; this copy only records the result.
    wait.then(
      (b) => {
        if (slot.batch === null) slot.batch = b;
        // A late answer for a chunk parsed here meanwhile: its memory can be reused.
        else if (b.bytes !== undefined && b !== slot.batch) releaseBytes(b.bytes);
      },
      () => undefined,
    );
  }

  /** Gives ready workers up to four chunks each, from the back (never the front chunk: this thread's next). */
  private feed(): void {
    const pool = this.pool;
    while (pool.ready > 0 && pool.inFlight < 4 * pool.ready) {
      let k = this.slots.length - 1;
      while (k > 0 && this.slots[k].block === null) k--;
      if (k === 0) return;
      const s = this.slots[k];
      const block = s.block!;
      s.block = null;
      this.watch(s, this.send(s, block));
      s.sent = block;
    }
  }

  private done(): ChunkBatch[] {
    const out: ChunkBatch[] = [];
    while (this.slots.length > 0 && this.slots[0].batch !== null) out.push(this.slots.shift()!.batch!);
    return out;
  }

  /** Some work: the results now done at the front (possibly none yet). */
  async step(): Promise<ChunkBatch[]> {
    this.feed();
    const ready = this.done();
    if (ready.length > 0) return ready;
    const k = this.slots.findIndex((s) => s.block !== null);
    if (k >= 0) {
      const s = this.slots[k];
      const block = s.block!;
      s.block = null;
      s.batch = this.here(s, block);
      // Let the workers' answers in (and new chunks out) between two chunks parsed here.
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.feed();
      return this.done();
    }
    // The front chunk is on a worker and nothing is left to parse here: give its answer a moment to
    // come in; if it has not, parse the chunk here (a worker that is cold, or not getting a core on a
    // busy machine, must not hold this thread up; its late answer is dropped).
    const head = this.slots[0];
    if (head.sent) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (head.batch === null) {
        head.batch = this.here(head, head.sent);
        head.sent = null;
      }
      return this.done();
    }
    await head.wait;
    return this.done();
  }
}
