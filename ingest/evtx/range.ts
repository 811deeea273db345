// An EVTX file cut into ranges of 64 KiB blocks, so that several threads share one large file. Chunks
// parse independently (each carries its own string and template tables), so a range gives exactly the
// items a whole-file read (reader.ts) gives for those blocks, in the same order.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CHUNK_SIZE, isChunk, parseChunk, type ChunkItem, type ChunkOptions } from './chunk.js';
import { checkFileHeader, FILE_HEADER_SIZE, notEvtx, strayBlock } from './reader.js';

export interface EvtxPlan {
  /** Blocks after the file header (the last may be short). */
  blocks: number;
  /** Why the file cannot be read as EVTX at all (nothing else is read then). */
  fatal?: string;
}

/**
 * Size, header and first block of an EVTX file: how many blocks to read, or why it is not EVTX.
 * Synchronous: a hunt plans every input before its workers get a job, and one promise per open, stat,
 * read and close (each a trip through the thread pool) made that 80-100 ms for the 79 files of ../shared.
 */
export function planEvtx(file: string): EvtxPlan {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    return { blocks: 0, fatal: `cannot open: ${(e as Error).message}` };
  }
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, FILE_HEADER_SIZE + CHUNK_SIZE));
    let bytesRead = 0;
    while (bytesRead < head.length) {
      const n = readSync(fd, head, bytesRead, head.length - bytesRead, bytesRead);
      if (n === 0) break;
      bytesRead += n;
    }
    const blocks = size > FILE_HEADER_SIZE ? Math.ceil((size - FILE_HEADER_SIZE) / CHUNK_SIZE) : 0;
    const fatal = notEvtx(head.subarray(0, Math.min(bytesRead, FILE_HEADER_SIZE)), blocks === 0 ? null : head.subarray(FILE_HEADER_SIZE, bytesRead));
    return fatal === undefined ? { blocks } : { blocks: 0, fatal };
  } catch (e) {
    return { blocks: 0, fatal: `cannot read: ${(e as Error).message}` };
  } finally {
    closeSync(fd);
  }
}

/**
 * The items of blocks [from, to) of a file, chunk by chunk (synchronous: run on a worker thread). The
 * range that starts the file also gives the file header's warnings (as a whole-file read does first).
 */
export function* readEvtxRange(file: string, from: number, to: number, opts: ChunkOptions = {}): Generator<ChunkItem[]> {
  const start = FILE_HEADER_SIZE + from * CHUNK_SIZE;
  const buf = Buffer.allocUnsafe((to - from) * CHUNK_SIZE);
  let got = 0;
  let noChunk = false;
  const fd = openSync(file, 'r');
  try {
    if (from === 0) {
      const header = Buffer.alloc(FILE_HEADER_SIZE);
      const warnings = checkFileHeader(header.subarray(0, readSync(fd, header, 0, FILE_HEADER_SIZE, 0)), file);
      if (to === 0) warnings.push({ kind: 'error', severity: 'warning', loc: { file, chunk: -1, offset: 0 }, message: 'file holds no chunks' });
      if (warnings.length > 0) yield warnings;
    }
    for (;;) {
      const n = readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
      if (got === buf.length) break;
    }
    // The whole-file read ends a log with blocks but not one chunk (a header then zeros or garbage) with
    // 'file holds no valid chunk': the range that ends the file says it, when neither it nor a block
    // before it (8 bytes read from each) is a chunk.
    if (to > 0 && start + got >= fstatSync(fd).size && !hasChunk(buf.subarray(0, got), 0, got)) noChunk = !chunkBefore(fd, from);
  } finally {
    closeSync(fd);
  }
  for (let i = 0; from + i < to && i * CHUNK_SIZE < got; i++) {
    const offset = start + i * CHUNK_SIZE;
    const block = buf.subarray(i * CHUNK_SIZE, Math.min(got, (i + 1) * CHUNK_SIZE));
    if (isChunk(block)) yield parseChunk(block, file, from + i, offset, opts);
    else {
      const stray = strayBlock(block, file, from + i, offset);
      if (stray) yield [stray];
    }
  }
  // Every block of the range held at least a byte when the file was planned: the file has shrunk since
  // (a live log rotated or cleared, a copy still being written over). What is left is read, and said so.
  if (got <= (to - from - 1) * CHUNK_SIZE) {
    const missing = from + Math.ceil(got / CHUNK_SIZE);
    yield [{ kind: 'error', severity: 'warning', loc: { file, chunk: missing, offset: FILE_HEADER_SIZE + missing * CHUNK_SIZE }, message: `file ends at offset ${start + got}, before blocks ${missing} to ${to - 1} it had when it was listed: it changed while it was read` }];
  }
  if (noChunk) yield [{ kind: 'error', severity: 'warning', loc: { file, chunk: -1, offset: 0 }, message: 'file holds no valid chunk' }];
}

/** Whether a block starting in buf[0, len) at a multiple of the chunk size is a chunk. */
function hasChunk(buf: Buffer, from: number, len: number): boolean {
  for (let at = from; at < len; at += CHUNK_SIZE) if (isChunk(buf, at)) return true;
  return false;
}

/** Whether one of the first `blocks` blocks of the file is a chunk, by its signature. */
function chunkBefore(fd: number, blocks: number): boolean {
  const sig = Buffer.alloc(8);
  for (let i = 0; i < blocks; i++) if (readSync(fd, sig, 0, 8, FILE_HEADER_SIZE + i * CHUNK_SIZE) === 8 && isChunk(sig)) return true;
  return false;
}
