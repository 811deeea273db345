// One 64 KiB chunk -> its records (and, from the slack after the last live record, recovered remnants).
// Pure: takes the chunk's bytes and where they came from, returns items; never throws.

import { crc32 } from 'node:zlib';
import { BinXmlError, ChunkContext, flatInstance, parseFragment, type XNode } from './binxml.js';
import { buildRecord, RecordShapeError } from './flatten.js';
import { FILTERED, loadVals, planOf, replay, replayJson, type Plan } from './compile.js';
import { byte, jsonPos, jsonRewind, jsonTake, rawString } from './jsonout.js';
import type { EvtxItem, EvtxLocation, EvtxRecordItem } from './record.js';
import { ExpansionError, Scope } from './resolve.js';
import { filetime, u32, ValueError } from './values.js';
import { renderXml } from './xml.js';

export const CHUNK_SIZE = 0x10000;
export const CHUNK_HEADER_SIZE = 512;
const RECORD_HEADER = 24;
const RECORD_MIN = RECORD_HEADER + 4;
const RECORD_SIG = Buffer.from([0x2a, 0x2a, 0x00, 0x00]);
export const CHUNK_SIG = Buffer.from('ElfChnk\0', 'latin1');

export interface ChunkOptions {
  /** Also render each record as XML (`item.xml`). */
  xml?: boolean;
  /** Look for records in the chunk's slack space (default true). */
  recover?: boolean;
  /** Cheap pre-filter: keep only these event IDs (decided after parsing the System part). */
  eventIds?: ReadonlySet<number>;
  /** Always take the general tree walk (tests compare it with the compiled fast path). */
  generic?: boolean;
  /** Takes the items as they are found, in order, instead of the returned list (which stays empty). */
  sink?: RecordSink;
}

/**
 * Where a chunk walk hands what it finds, as it finds it: records of a compiled template first to line()
 * (without eventIds), which may take one whole (written as a line elsewhere); the rest as items.
 */
export interface RecordSink {
  /** A record replayable from its plan: true when it was taken (then it is no item). `offset`: in the file. */
  line(plan: Plan, ctx: ChunkContext, count: number, writtenLo: number, writtenHi: number, recovered: boolean, chunk: number, offset: number): boolean;
  item(it: ChunkItem): void;
}

/** Items of a chunk: the reader's items. */
export type ChunkRecordItem = EvtxRecordItem;
export type ChunkItem = EvtxItem;

export function isChunk(b: Buffer, off = 0): boolean {
  return b.length >= off + 8 && b.compare(CHUNK_SIG, 0, 8, off, off + 8) === 0;
}

/** Where a chunk walk puts what it finds: items, and (JSON-lines mode) the records' lines, to the JSON writer. */
interface ChunkOutput {
  items: ChunkItem[];
  json: boolean;
  sink?: RecordSink;
  /** The chunk's index and offset in the file. */
  chunk: number;
  base: number;
}

function add(out: ChunkOutput, it: ChunkItem): void {
  if (out.sink !== undefined) out.sink.item(it);
  else out.items.push(it);
}

/** Parses the chunk in `b` (up to 64 KiB; shorter when the file is truncated). */
export function parseChunk(b: Buffer, file: string, chunkIndex: number, fileOffset: number, opts: ChunkOptions = {}): ChunkItem[] {
  const out: ChunkOutput = { items: [], json: false, sink: opts.sink, chunk: chunkIndex, base: fileOffset };
  walkChunk(b, file, chunkIndex, fileOffset, opts, out);
  return out.items;
}

/** Parses a chunk into its records as text (JSON lines built straight from compiled templates, or XML). */
export function parseChunkText(b: Buffer, file: string, chunkIndex: number, fileOffset: number, opts: ChunkOptions, format: SerializeFormat): ChunkBatch {
  if (format === 'xml') return serializeChunk(parseChunk(b, file, chunkIndex, fileOffset, { ...opts, xml: true }), 'xml');
  const batch = parseChunkBytes(b, file, chunkIndex, fileOffset, opts);
  return { items: batch.items, text: batch.bytes!.toString('utf8') };
}

/**
 * Parses a chunk into its records as JSON lines in UTF-8 (`bytes`, a Buffer of its own that can be
 * transferred), written byte by byte from compiled templates; error items stay items.
 */
export function parseChunkBytes(b: Buffer, file: string, chunkIndex: number, fileOffset: number, opts: ChunkOptions): ChunkBatch {
  const out: ChunkOutput = { items: [], json: true, chunk: chunkIndex, base: fileOffset };
  jsonRewind(0);
  walkChunk(b, file, chunkIndex, fileOffset, opts, out);
  return { items: out.items, bytes: jsonTake() };
}

function walkChunk(b: Buffer, file: string, chunkIndex: number, fileOffset: number, opts: ChunkOptions, out: ChunkOutput): void {
  const at = (off: number): EvtxLocation => ({ file, chunk: chunkIndex, offset: fileOffset + off });
  const problem = (off: number, severity: 'warning' | 'error', message: string) =>
    add(out, { kind: 'error', severity, loc: at(off), message });

  const len = Math.min(b.length, CHUNK_SIZE);
  if (len < CHUNK_HEADER_SIZE) {
    problem(0, 'error', `chunk is truncated to ${len} bytes (header needs ${CHUNK_HEADER_SIZE})`);
    return;
  }
  if (len < CHUNK_SIZE) problem(0, 'warning', `chunk is truncated to ${len} of ${CHUNK_SIZE} bytes; reading what is there`);

  const headerCrc = u32(b, 124);
  if (headerCrc !== 0) {
    const actual = crc32(b.subarray(128, 512), crc32(b.subarray(0, 120)));
    if (actual !== headerCrc) problem(0, 'warning', `chunk header CRC32 mismatch (stored 0x${headerCrc.toString(16)}, computed 0x${actual.toString(16)})`);
  }
  let free = u32(b, 48);
  if (free < CHUNK_HEADER_SIZE || free > len) {
    problem(48, 'warning', `chunk free-space offset 0x${free.toString(16)} is invalid; scanning the whole chunk`);
    free = len;
  } else {
    const dataCrc = u32(b, 52);
    if (dataCrc !== 0) {
      const actual = crc32(b.subarray(CHUNK_HEADER_SIZE, free));
      if (actual !== dataCrc) problem(52, 'warning', `event records CRC32 mismatch (stored 0x${dataCrc.toString(16)}, computed 0x${actual.toString(16)})`);
    }
  }

  const ctx = new ChunkContext(b, len);
  let p = CHUNK_HEADER_SIZE;
  while (p + RECORD_MIN <= free) {
    if (b[p] !== 0x2a || b[p + 1] !== 0x2a || b[p + 2] !== 0 || b[p + 3] !== 0) {
      const next = nextSignature(b, p + 1, free);
      problem(p, 'error', `no record signature at chunk offset 0x${p.toString(16)}; skipped ${next - p} bytes to the next record`);
      p = next;
      continue;
    }
    const size = u32(b, p + 4);
    if (size < RECORD_MIN || p + size > len) {
      const next = nextSignature(b, p + 4, free);
      problem(p, 'error', size < RECORD_MIN ? `record size ${size} is too small` : `record size ${size} runs past the chunk`);
      p = next;
      continue;
    }
    const copy = u32(b, p + size - 4);
    const err = emitRecord(ctx, p, size, false, at, out, opts);
    if (copy !== size) {
      // Windows may not have written the trailing copy yet (a log that was in use): the record can still
      // be whole. Keep it if its BinXML parsed within the stated size; otherwise resynchronise.
      if (err === null) {
        problem(p, 'warning', `record size ${size} does not match its trailing copy ${copy}; its data parsed whole and is kept`);
        p += size;
      } else {
        problem(p, 'error', `record size ${size} does not match its trailing copy ${copy}; skipped to the next record`);
        p = nextSignature(b, p + 4, free);
      }
      continue;
    }
    if (err !== null) problem(p, 'error', err);
    p += size;
  }

  if (opts.recover !== false) recoverSlack(ctx, free, len, at, out, opts);
}

function nextSignature(b: Buffer, from: number, end: number): number {
  const i = b.indexOf(RECORD_SIG, from);
  return i < 0 || i >= end ? end : i;
}

/** Parses one record into `out`; returns null, or why the record could not be parsed. Never throws. */
function emitRecord(ctx: ChunkContext, p: number, size: number, recovered: boolean, at: (off: number) => EvtxLocation, out: ChunkOutput, opts: ChunkOptions): string | null {
  const b = ctx.b;
  const mark = out.json ? jsonPos() : 0;
  try {
    const number = u32(b, p + 8) + u32(b, p + 12) * 0x100000000;
    const writtenLo = u32(b, p + 16);
    const writtenHi = u32(b, p + 20);
    const start = p + RECORD_HEADER;
    const limit = p + size - 4;
    ctx.work = 0;
    ctx.nvals = 0;
    // The usual record, one template instance, is read into flat value descriptors without a tree; the
    // tree is parsed only when needed (XML, another shape, or a record the compiled plan cannot replay).
    let nodes: XNode[] | null = null;
    let tpl = opts.generic || opts.xml ? null : flatInstance(ctx, start, limit);
    if (tpl === null) {
      nodes = parseFragment(ctx, start, limit, false);
      if (!opts.generic && nodes.length === 1 && nodes[0].t === 3) {
        tpl = nodes[0].tpl;
        loadVals(ctx, nodes[0].vals, 0);
      }
    }
    const plan: Plan | null = tpl === null ? null : planOf(tpl);
    const count = ctx.nvals;
    if (out.json && plan !== null && replayJson(plan, ctx, count, number, writtenLo, writtenHi, recovered, opts.eventIds)) return null;
    if (out.sink !== undefined && plan !== null && opts.eventIds === undefined && out.sink.line(plan, ctx, count, writtenLo, writtenHi, recovered, out.chunk, out.base + p)) return null;
    const written = filetime(writtenLo, writtenHi);
    let record = plan === null || out.json ? null : replay(plan, ctx, count, number, written, opts.eventIds);
    if (record === FILTERED) return null;
    let scope: Scope | null = null;
    if (record === null) {
      if (nodes === null) nodes = parseFragment(ctx, start, limit, false);
      scope = new Scope(ctx, []);
      record = buildRecord(nodes, scope, number, written);
    }
    if (opts.eventIds !== undefined && !opts.eventIds.has(record.event_id)) return null;
    const item: ChunkRecordItem = { kind: 'record', record, loc: at(p) };
    if (recovered) item.recovered = true;
    if (out.json) {
      writeLine(recordJson(item));
      return null;
    }
    // With xml the tree was parsed above (no flat read).
    if (opts.xml && nodes !== null) item.xml = renderXml(nodes, scope ?? new Scope(ctx, []));
    add(out, item);
    return null;
  } catch (e) {
    if (out.json) jsonRewind(mark);
    const where = `record at chunk offset 0x${p.toString(16)}`;
    if (e instanceof BinXmlError) return `${where}: ${e.message} (at chunk offset 0x${e.offset.toString(16)})`;
    if (e instanceof ValueError || e instanceof RecordShapeError || e instanceof ExpansionError || e instanceof RangeError) return `${where}: ${e.message}`;
    // A bug of ours, not damage in the file: still report it against the record and go on.
    return `${where}: internal error: ${(e as Error).stack ?? e}`;
  }
}

function writeLine(json: string): void {
  rawString(json);
  byte(0x0a);
}

/** Records left in the slack after the last live record (deleted or overwritten data), marked recovered. */
function recoverSlack(ctx: ChunkContext, free: number, len: number, at: (off: number) => EvtxLocation, out: ChunkOutput, opts: ChunkOptions): void {
  const b = ctx.b;
  // Whole records (signature, size, trailing size) first; what they cover is not carved again.
  const covered: [number, number][] = [];
  let p = nextSignature(b, free, len);
  while (p + RECORD_MIN <= len) {
    const size = u32(b, p + 4);
    // Slack holds fragments of old data: a candidate that does not parse is not a record, and not reported.
    if (size >= RECORD_MIN && p + size <= len && u32(b, p + size - 4) === size && emitRecord(ctx, p, size, true, at, out, opts) === null) {
      covered.push([p, p + size]);
      p = nextSignature(b, p + size, len);
    } else {
      p = nextSignature(b, p + 1, len);
    }
  }
  carveFragments(ctx, free, len, covered, at, out, opts);
}

const FRAGMENT_SIG = Buffer.from([0x0f, 0x01, 0x01, 0x00]);

/**
 * Event remnants without a record header: BinXML fragments with inline names (as forwarded events are
 * buffered), left in slack by deleted or overwritten data. Kept only when they render as a whole event.
 */
function carveFragments(ctx: ChunkContext, from: number, len: number, covered: [number, number][], at: (off: number) => EvtxLocation, out: ChunkOutput, opts: ChunkOptions): void {
  const b = ctx.b;
  let p = b.indexOf(FRAGMENT_SIG, from);
  while (p >= 0 && p + 16 <= len) {
    const inside = covered.some(([s, e]) => p >= s && p < e);
    const tok = b[p + 4];
    let next = p + 1;
    if (!inside && (tok === 0x01 || tok === 0x41)) {
      ctx.carving = true;
      ctx.work = 0;
      ctx.carveEnd = 0;
      try {
        const nodes = parseFragment(ctx, p, len, false);
        const record = buildRecord(nodes, new Scope(ctx, []), 0, undefined);
        if (record.provider !== '' && record.timestamp !== '' && (opts.eventIds === undefined || opts.eventIds.has(record.event_id))) {
          const item: ChunkRecordItem = { kind: 'record', record, loc: at(p), recovered: true };
          if (out.json) writeLine(recordJson(item));
          else {
            if (opts.xml) item.xml = renderXml(nodes, new Scope(ctx, []));
            add(out, item);
          }
          next = Math.max(p + 1, ctx.carveEnd);
        }
      } catch {
        // Not an event: slack is mostly noise.
      } finally {
        ctx.carving = false;
      }
    }
    p = b.indexOf(FRAGMENT_SIG, next);
  }
}

export type SerializeFormat = 'jsonl' | 'xml';

/** A parsed chunk: its items, or (when serialized) its records as text plus its error items. */
export interface ChunkBatch {
  items: ChunkItem[];
  text?: string;
  /** JSON lines as UTF-8 (when asked for bytes). */
  bytes?: Buffer;
  /** The chunk itself, not parsed (ReadOptions.unparsed): for another thread to parse with parseChunk. */
  unparsed?: { bytes: Buffer; index: number; offset: number };
}

/** One JSON line per record, with the reference dumps' field names (`recovered: true` added when so). */
export function recordJson(item: ChunkRecordItem): string {
  return JSON.stringify(item.recovered ? { ...item.record, recovered: true } : item.record);
}

/** Records as text (JSON lines or XML documents); the error items are kept as items. */
export function serializeChunk(items: ChunkItem[], format: SerializeFormat): ChunkBatch {
  const errors: ChunkItem[] = [];
  let text = '';
  for (const it of items) {
    if (it.kind !== 'record') errors.push(it);
    else if (format === 'xml') text += (it.recovered ? '<!-- recovered from chunk slack space -->\n' : '') + (it.xml ?? '');
    else text += recordJson(it) + '\n';
  }
  return { items: errors, text };
}
