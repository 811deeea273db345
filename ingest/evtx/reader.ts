// EVTX file/stream -> async iterator of items, in file order, holding a few chunks at a time.
// Chunks are found by checking every 64 KiB block after the file header for the chunk signature: the
// header's chunk count is often stale on live systems and is never trusted.

import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { CHUNK_SIZE, isChunk, parseChunk, parseChunkBytes, parseChunkText, type ChunkBatch, type ChunkItem, type ChunkOptions, type SerializeFormat } from './chunk.js';
import type { EvtxErrorItem } from './record.js';
import { u16, u32 } from './values.js';
import { WorkerPool } from './pool.js';

export { WorkerPool };

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

/** Blocks of an EVTX input: the header, then each 64 KiB block with its index and file offset. */
interface BlockSource {
  header(): Promise<Buffer>;
  /** The next block (shorter at the end of input), or null at the end. */
  next(): Promise<Buffer | null>;
  close(): Promise<void>;
}

/** Reads ahead in large pieces, one read always in flight, so parsing never waits on a 64 KiB round trip. */
const READ_AHEAD = 16 * CHUNK_SIZE;

/** `copy`: each block in memory of its own (to be transferred to a worker); else a view into the read piece. */
async function fileSource(path: string, copy: boolean): Promise<BlockSource> {
  const fh = await open(path, 'r');
  let pos = 0;
  const readAt = async (at: number, n: number): Promise<Buffer> => {
    const buf = Buffer.allocUnsafeSlow(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await fh.read(buf, got, n - got, at + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === n ? buf : buf.subarray(0, got);
  };
  let piece: Buffer = Buffer.alloc(0);
  let piecePos = 0;
  let ahead: Promise<Buffer> | null = null;
  return {
    header: async () => {
      const h = await readAt(0, FILE_HEADER_SIZE);
      pos = h.length;
      ahead = readAt(pos, READ_AHEAD);
      return h;
    },
    next: async () => {
      if (piecePos >= piece.length) {
        if (ahead === null) return null;
        piece = await ahead;
        piecePos = 0;
        pos += piece.length;
        ahead = piece.length === READ_AHEAD ? readAt(pos, READ_AHEAD) : null;
        if (piece.length === 0) return null;
      }
      // For workers a copy per chunk: chunks go by transfer, and a chunk must not pin the whole piece.
      const end = Math.min(piece.length, piecePos + CHUNK_SIZE);
      let block: Buffer;
      if (copy) {
        block = Buffer.allocUnsafeSlow(end - piecePos);
        piece.copy(block, 0, piecePos, end);
      } else {
        block = piece.subarray(piecePos, end);
      }
      piecePos = end;
      return block;
    },
    close: async () => {
      await ahead?.catch(() => undefined);
      await fh.close();
    },
  };
}

function streamSource(stream: Readable): BlockSource {
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let pending: Buffer[] = [];
  let have = 0;
  let done = false;
  const readN = async (n: number): Promise<Buffer> => {
    while (have < n && !done) {
      const r = await it.next();
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
      return b.length === 0 ? null : b;
    },
    close: async () => {
      await it.return?.();
    },
  };
}

/**
 * Reads every record of an EVTX file or stream, in file order. Damage never throws: it becomes error
 * items (with file, chunk and offset), and reading goes on. An input that cannot be opened or is not
 * EVTX at all yields a single `fatal` error item.
 */
export async function* readEvtx(source: string | Readable, opts: ReadOptions = {}): AsyncGenerator<EvtxReadItem> {
  for await (const batch of readEvtxChunks(source, { ...opts, serialize: undefined })) yield* batch.items;
}

const single = (item: ChunkItem): ChunkBatch => ({ items: [item] });

/** As readEvtx, one batch per chunk: fewer awaits, and records optionally serialized (on the workers). */
export async function* readEvtxChunks(source: string | Readable, opts: ReadOptions = {}): AsyncGenerator<ChunkBatch> {
  const file = typeof source === 'string' ? source : (opts.name ?? '<stream>');
  const fatal = (offset: number, chunk: number, message: string): ChunkBatch => single({ kind: 'error', severity: 'fatal', loc: { file, chunk, offset }, message });
  const usePool = opts.pool !== undefined || (opts.threads ?? 0) > 1;
  let src: BlockSource;
  try {
    src = typeof source === 'string' ? await fileSource(source, usePool) : streamSource(source);
  } catch (e) {
    yield fatal(0, -1, `cannot open: ${(e as Error).message}`);
    return;
  }
  const ownPool = !opts.pool && (opts.threads ?? 0) > 1 ? new WorkerPool(opts.threads!) : null;
  const pool = opts.pool ?? ownPool;
  const threads = pool?.size ?? 0;
  const chunkOpts: ChunkOptions = { xml: opts.xml || opts.serialize === 'xml', recover: opts.recover, eventIds: opts.eventIds, generic: opts.generic };
  // JSON lines are made as bytes (on the workers too); a caller that wants text gets them decoded here.
  const asText = (batch: ChunkBatch): ChunkBatch => (batch.bytes === undefined || opts.bytes ? batch : { items: batch.items, text: batch.bytes.toString('utf8') });
  const parseHere = (block: Buffer, index: number, offset: number): ChunkBatch => {
    if (opts.serialize === 'jsonl') return asText(parseChunkBytes(block, file, index, offset, chunkOpts));
    return opts.serialize ? parseChunkText(block, file, index, offset, chunkOpts, opts.serialize) : { items: parseChunk(block, file, index, offset, chunkOpts) };
  };
  const parse = (block: Buffer, index: number, offset: number): Promise<ChunkBatch> => {
    if (!pool) return Promise.resolve(parseHere(block, index, offset));
    // A worker still starting (or still cold, answering slowly) would hold up the chunks queued behind
    // it: this thread takes chunks while the ready workers have `depth` each waiting, a depth that grows
    // from 2 to 8 as they answer.
    const depth = Math.min(8, 2 + (pool.answered >> 3));
    if (!opts.parseOnMain || (pool.ready > 0 && pool.inFlight < depth * pool.ready)) return pool.parse(block, file, index, offset, chunkOpts, opts.serialize).then(asText);
    // Parsed from the event loop, so that the workers' answers (and new work for them) go in between.
    return new Promise((resolve, reject) =>
      setImmediate(() => {
        try {
          resolve(parseHere(block, index, offset));
        } catch (e) {
          reject(e as Error);
        }
      }),
    );
  };
  try {
    let header: Buffer;
    try {
      header = await src.header();
    } catch (e) {
      yield fatal(0, -1, `cannot read: ${(e as Error).message}`);
      return;
    }
    const headerWarnings = checkFileHeader(header, file);
    const sigOk = header.length >= 8 && header.compare(FILE_SIG, 0, 8, 0, 8) === 0;
    let chunks = 0;
    let index = 0;
    let offset = FILE_HEADER_SIZE;
    // Chunks in flight, in file order: bounded, so memory holds a few chunks whatever the file size.
    const queue: Promise<ChunkBatch>[] = [];
    const maxInFlight = pool ? threads * 2 + (opts.parseOnMain ? 16 : 0) : 1;
    let first = true;
    while (true) {
      let block: Buffer | null;
      try {
        block = await src.next();
      } catch (e) {
        queue.push(Promise.resolve(fatal(offset, index, `read failed: ${(e as Error).message}`)));
        break;
      }
      if (block === null) break;
      if (first) {
        first = false;
        if (!sigOk && !isChunk(block)) {
          yield fatal(0, -1, 'not an EVTX file (no file header signature and no chunk after it)');
          return;
        }
        if (headerWarnings.length > 0) yield { items: headerWarnings };
      }
      const chunkIndex = index++;
      const chunkOffset = offset;
      offset += block.length;
      if (!isChunk(block)) {
        if (!isZero(block)) {
          // Queued, not yielded, so that it keeps its place among chunks still being parsed.
          queue.push(Promise.resolve(single({ kind: 'error', severity: 'error', loc: { file, chunk: chunkIndex, offset: chunkOffset }, message: `block at 0x${chunkOffset.toString(16)} has no chunk signature; skipped` })));
        }
      } else {
        chunks++;
        queue.push(parse(block, chunkIndex, chunkOffset));
      }
      while (queue.length >= maxInFlight) yield await queue.shift()!;
    }
    while (queue.length > 0) yield await queue.shift()!;
    if (first) {
      yield sigOk
        ? single({ kind: 'error', severity: 'warning', loc: { file, chunk: -1, offset: 0 }, message: 'file holds no chunks' })
        : fatal(0, -1, 'not an EVTX file (too short)');
    } else if (chunks === 0) {
      yield single({ kind: 'error', severity: 'warning', loc: { file, chunk: -1, offset: 0 }, message: 'file holds no valid chunk' });
    }
  } finally {
    await ownPool?.close();
    await src.close().catch(() => undefined);
  }
}
