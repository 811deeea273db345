// EVTX file/stream -> async iterator of items, in file order, holding a few chunks at a time.
// Chunks are found by checking every 64 KiB block after the file header for the chunk signature: the
// header's chunk count is often stale on live systems and is never trusted.

import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { CHUNK_SIZE, isChunk, parseChunk, type ChunkItem, type ChunkOptions } from './chunk.js';
import type { EvtxErrorItem } from './record.js';
import { u16, u32 } from './values.js';
import { WorkerPool } from './pool.js';

export const FILE_HEADER_SIZE = 0x1000;
const FILE_SIG = Buffer.from('ElfFile\0', 'latin1');

export interface ReadOptions extends ChunkOptions {
  /** Parse chunks on this many worker threads (order is preserved). 0 or 1: on this thread. */
  threads?: number;
  /** Name used in locations when reading a stream. */
  name?: string;
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

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i += 8) {
    if (b[i] !== 0 || b[i + 1] !== 0 || b[i + 2] !== 0 || b[i + 3] !== 0) return false;
  }
  return b.every((x) => x === 0);
}

/** Blocks of an EVTX input: the header, then each 64 KiB block with its index and file offset. */
interface BlockSource {
  header(): Promise<Buffer>;
  /** The next block (shorter at the end of input), or null at the end. */
  next(): Promise<Buffer | null>;
  close(): Promise<void>;
}

async function fileSource(path: string): Promise<BlockSource> {
  const fh = await open(path, 'r');
  let pos = 0;
  const readN = async (n: number): Promise<Buffer> => {
    const buf = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await fh.read(buf, got, n - got, pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    pos += got;
    return got === n ? buf : buf.subarray(0, got);
  };
  return {
    header: () => readN(FILE_HEADER_SIZE),
    next: async () => {
      const b = await readN(CHUNK_SIZE);
      return b.length === 0 ? null : b;
    },
    close: () => fh.close(),
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
  const file = typeof source === 'string' ? source : (opts.name ?? '<stream>');
  let src: BlockSource;
  try {
    src = typeof source === 'string' ? await fileSource(source) : streamSource(source);
  } catch (e) {
    yield { kind: 'error', severity: 'fatal', loc: { file, chunk: -1, offset: 0 }, message: `cannot open: ${(e as Error).message}` };
    return;
  }
  const threads = opts.threads ?? 0;
  const pool = threads > 1 ? new WorkerPool(threads) : null;
  try {
    let header: Buffer;
    try {
      header = await src.header();
    } catch (e) {
      yield { kind: 'error', severity: 'fatal', loc: { file, chunk: -1, offset: 0 }, message: `cannot read: ${(e as Error).message}` };
      return;
    }
    const headerWarnings = checkFileHeader(header, file);
    const sigOk = header.length >= 8 && header.compare(FILE_SIG, 0, 8, 0, 8) === 0;
    let chunks = 0;
    let index = 0;
    let offset = FILE_HEADER_SIZE;
    const queue: Promise<ChunkItem[]>[] = [];
    const maxInFlight = Math.max(2, threads * 2);
    const drainOne = async function* () {
      const items = await queue.shift()!;
      for (const it of items) yield it;
    };
    let first = true;
    while (true) {
      let block: Buffer | null;
      try {
        block = await src.next();
      } catch (e) {
        yield { kind: 'error', severity: 'fatal', loc: { file, chunk: index, offset }, message: `read failed: ${(e as Error).message}` };
        break;
      }
      if (block === null) break;
      if (first) {
        first = false;
        if (!sigOk && !isChunk(block)) {
          yield { kind: 'error', severity: 'fatal', loc: { file, chunk: -1, offset: 0 }, message: 'not an EVTX file (no file header signature and no chunk after it)' };
          return;
        }
        for (const w of headerWarnings) yield w;
      }
      const chunkIndex = index++;
      const chunkOffset = offset;
      offset += block.length;
      if (!isChunk(block)) {
        if (!isZero(block)) {
          // Queued, not yielded, so that it keeps its place among chunks still being parsed.
          queue.push(Promise.resolve([{ kind: 'error', severity: 'error', loc: { file, chunk: chunkIndex, offset: chunkOffset }, message: `block at 0x${chunkOffset.toString(16)} has no chunk signature; skipped` }]));
        }
        continue;
      }
      chunks++;
      queue.push(pool ? pool.parse(block, file, chunkIndex, chunkOffset, opts) : Promise.resolve(parseChunk(block, file, chunkIndex, chunkOffset, opts)));
      if (queue.length >= maxInFlight || !pool) yield* drainOne();
    }
    while (queue.length > 0) yield* drainOne();
    if (first) {
      yield { kind: 'error', severity: sigOk ? 'warning' : 'fatal', loc: { file, chunk: -1, offset: 0 }, message: sigOk ? 'file holds no chunks' : 'not an EVTX file (too short)' };
    } else if (chunks === 0) {
      yield { kind: 'error', severity: 'warning', loc: { file, chunk: -1, offset: 0 }, message: 'file holds no valid chunk' };
    }
  } finally {
    await pool?.close();
    await src.close().catch(() => undefined);
  }
}
