// One 64 KiB chunk -> its records (and, from the slack after the last live record, recovered remnants).
// Pure: takes the chunk's bytes and where they came from, returns items; never throws.

import { crc32 } from 'node:zlib';
import { BinXmlError, ChunkContext, parseFragment } from './binxml.js';
import { buildRecord, RecordShapeError } from './flatten.js';
import { compile, replay, type Plan } from './compile.js';
import type { EvtxItem, EvtxLocation } from './record.js';
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
}

export interface ChunkRecordItem {
  kind: 'record';
  record: import('./record.js').EvtxRecord;
  loc: EvtxLocation;
  recovered?: boolean;
  xml?: string;
}

export type ChunkItem = ChunkRecordItem | Exclude<EvtxItem, { kind: 'record' }>;

export function isChunk(b: Buffer, off = 0): boolean {
  return b.length >= off + 8 && b.compare(CHUNK_SIG, 0, 8, off, off + 8) === 0;
}

/** Parses the chunk in `b` (up to 64 KiB; shorter when the file is truncated). */
export function parseChunk(b: Buffer, file: string, chunkIndex: number, fileOffset: number, opts: ChunkOptions = {}): ChunkItem[] {
  const items: ChunkItem[] = [];
  const at = (off: number): EvtxLocation => ({ file, chunk: chunkIndex, offset: fileOffset + off });
  const problem = (off: number, severity: 'warning' | 'error', message: string) =>
    items.push({ kind: 'error', severity, loc: at(off), message });

  const len = Math.min(b.length, CHUNK_SIZE);
  if (len < CHUNK_HEADER_SIZE) {
    problem(0, 'error', `chunk is truncated to ${len} bytes (header needs ${CHUNK_HEADER_SIZE})`);
    return items;
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
    if (copy !== size) {
      // Windows may not have written the trailing copy yet (a log that was in use): the record can still
      // be whole. Keep it if its BinXML parses within the stated size; otherwise resynchronise.
      const before = items.length;
      if (parseRecord(ctx, p, size, true, at, items, opts)) {
        const rec = items[before];
        if (rec !== undefined && rec.kind === 'record') delete rec.recovered;
        problem(p, 'warning', `record size ${size} does not match its trailing copy ${copy}; its data parsed whole and is kept`);
        p += size;
      } else {
        problem(p, 'error', `record size ${size} does not match its trailing copy ${copy}; skipped to the next record`);
        p = nextSignature(b, p + 4, free);
      }
      continue;
    }
    parseRecord(ctx, p, size, false, at, items, opts);
    p += size;
  }

  if (opts.recover !== false) recoverSlack(ctx, free, len, at, items, opts);
  return items;
}

function nextSignature(b: Buffer, from: number, end: number): number {
  const i = b.indexOf(RECORD_SIG, from);
  return i < 0 || i >= end ? end : i;
}

function parseRecord(
  ctx: ChunkContext,
  p: number,
  size: number,
  recovered: boolean,
  at: (off: number) => EvtxLocation,
  items: ChunkItem[],
  opts: ChunkOptions,
): boolean {
  const b = ctx.b;
  try {
    const number = u32(b, p + 8) + u32(b, p + 12) * 0x100000000;
    const wlo = u32(b, p + 16), whi = u32(b, p + 20);
    ctx.work = 0;
    const nodes = parseFragment(ctx, p + RECORD_HEADER, p + size - 4, false);
    const scope = new Scope(ctx, []);
    const written = filetime(wlo, whi);
    let record = null;
    if (!opts.generic && nodes.length === 1 && nodes[0].t === 3) {
      const inst = nodes[0];
      let plan = ctx.plans.get(inst.tpl) as Plan | null | undefined;
      if (plan === undefined) ctx.plans.set(inst.tpl, (plan = compile(inst.tpl)));
      if (plan !== null) record = replay(plan, ctx, inst.vals, number, written);
    }
    if (record === null) record = buildRecord(nodes, scope, number, written);
    if (opts.eventIds !== undefined && !opts.eventIds.has(record.event_id)) return true;
    const item: ChunkRecordItem = { kind: 'record', record, loc: at(p) };
    if (recovered) item.recovered = true;
    if (opts.xml) item.xml = renderXml(nodes, scope);
    items.push(item);
    return true;
  } catch (e) {
    if (recovered) return false;
    if (e instanceof BinXmlError) {
      items.push({ kind: 'error', severity: 'error', loc: at(p), message: `record at chunk offset 0x${p.toString(16)}: ${e.message} (at chunk offset 0x${e.offset.toString(16)})` });
    } else if (e instanceof ValueError || e instanceof RecordShapeError || e instanceof ExpansionError || e instanceof RangeError) {
      items.push({ kind: 'error', severity: 'error', loc: at(p), message: `record at chunk offset 0x${p.toString(16)}: ${e.message}` });
    } else {
      // A bug of ours, not damage in the file: still report it against the record and go on.
      items.push({ kind: 'error', severity: 'error', loc: at(p), message: `record at chunk offset 0x${p.toString(16)}: internal error: ${(e as Error).stack ?? e}` });
    }
    return false;
  }
}

/** Records left in the slack after the last live record (deleted or overwritten data), marked recovered. */
function recoverSlack(ctx: ChunkContext, free: number, len: number, at: (off: number) => EvtxLocation, items: ChunkItem[], opts: ChunkOptions): void {
  const b = ctx.b;
  let p = nextSignature(b, free, len);
  while (p + RECORD_MIN <= len) {
    const size = u32(b, p + 4);
    if (size >= RECORD_MIN && p + size <= len && u32(b, p + size - 4) === size && parseRecord(ctx, p, size, true, at, items, opts)) {
      p = nextSignature(b, p + size, len);
    } else {
      p = nextSignature(b, p + 1, len);
    }
  }
}

export type SerializeFormat = 'jsonl' | 'xml';

/** A parsed chunk: its items, or (when serialized) its records as text plus its error items. */
export interface ChunkBatch {
  items: ChunkItem[];
  text?: string;
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
