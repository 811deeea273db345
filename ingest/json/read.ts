// One JSON input file (plain, .gz, .zip, .tar.gz) to adapted records or rejects, streaming. EVTX members
// of an archive are handed to a reader the caller gives (EvtxMembers), in their place among the others.
import { open } from 'node:fs/promises';
import type { Provenance, Reject } from '../../schemas/event.js';
import type { SourceRecord } from '../normalize/source.js';
import { signature } from '../kind.js';
import { gunzippedName, openEntries, type EntryRange } from './archive.js';
import { peek, textEncoding, utf16ToUtf8 } from './content.js';
import { adapt, type JsonFormat } from './detect.js';
import { splitJson, ws, type Piece } from './split.js';

export type InputItem =
  | { kind: 'record'; record: SourceRecord; prov: Provenance }
  | { kind: 'reject'; reject: Reject }
  | { kind: 'warning'; source: string; message: string };

const MAX_ORIGINAL = 64 * 1024;

export function sourceName(file: string, entry?: string): string {
  return entry ? `${file}!${entry}` : file;
}

export function position(p: { line?: number; index?: number; offset?: number; utf16?: true }): string {
  const parts: string[] = [];
  if (p.index !== undefined) parts.push(`index ${p.index}`);
  if (p.line !== undefined) parts.push(`line ${p.line}`);
  if (p.offset !== undefined) parts.push(p.utf16 ? `offset ${p.offset} of its UTF-8 form` : `offset ${p.offset}`);
  return parts.join(', ') || 'unknown';
}

export function reject(source: string, pos: string, reason: string, original: string, format?: Reject['format']): Reject {
  const r: Reject = { source, position: pos, reason, original: original.length > MAX_ORIGINAL ? original.slice(0, MAX_ORIGINAL) : original };
  if (format !== undefined) r.format = format;
  return r;
}

/** A piece of JSON text and the archive entry it came from, not yet parsed (that may happen elsewhere). */
export type PieceItem = { kind: 'piece'; piece: Piece; entry?: string };

/**
 * A 64 KiB EVTX chunk of an archive member, cut out and not yet parsed: a worker parses it
 * (ingest/parallel), with `index` and `offset` where the extracted file has it.
 */
export interface ChunkPiece { kind: 'chunk'; entry: string; bytes: Uint8Array; index: number; offset: number }

export type RawItem = PieceItem | ChunkPiece | InputItem;

/** V8's words for a JSON value followed by more text, and where (in UTF-16 units) the value ends. */
const MORE_AFTER = /^Unexpected non-whitespace character after JSON at position (\d+)/;
/** Values taken from one line written without newlines between them; past this, the rest is one reject. */
const MAX_VALUES_PER_PIECE = 100_000;

/**
 * A piece holding several JSON values one after the other (`{...}{...}`, `{...} {...}`, `{...},{...}`: a
 * writer that left out the newlines), cut where JSON.parse says the first one ends: the first value and
 * the rest. Undefined when what follows is not another object or array (garbage after a value).
 */
function cutAfter(p: Piece, at: number): [Piece, Piece] | undefined {
  const t = p.text;
  let j = at;
  while (j < t.length && ws(t.charCodeAt(j))) j++;
  if (t.charCodeAt(j) === 0x2c) for (j++; j < t.length && ws(t.charCodeAt(j));) j++;
  const c = t.charCodeAt(j);
  if (c !== 0x7b && c !== 0x5b) return undefined;
  return [{ ...p, text: t.slice(0, at) }, { ...p, text: t.slice(j), offset: p.offset + Buffer.byteLength(t.slice(0, j)) }];
}

/**
 * Parses and adapts one piece: a record, or a reject with its position and reason; several, when the piece
 * holds several JSON values written without newlines between them (each with its own offset).
 */
export function pieceItem(p: Piece, file: string, entry: string | undefined, format: JsonFormat | undefined): InputItem | InputItem[] {
  let out: InputItem[] | undefined;
  for (let n = 1; ; n++) {
    let v: unknown;
    let cut: [Piece, Piece] | undefined;
    if (p.bad === undefined) {
      try {
        v = JSON.parse(p.text);
      } catch (e) {
        const m = n < MAX_VALUES_PER_PIECE ? MORE_AFTER.exec((e as Error).message) : null;
        cut = m ? cutAfter(p, Number(m[1])) : undefined;
        if (cut === undefined) return last(out, { kind: 'reject', reject: reject(sourceName(file, entry), position(p), `not JSON: ${(e as Error).message}`, p.text) });
      }
    }
    if (cut === undefined) return last(out, valueItem(p, v, file, entry, format));
    (out ??= []).push(valueItem(cut[0], JSON.parse(cut[0].text), file, entry, format));
    p = cut[1];
  }
}

function last(out: InputItem[] | undefined, it: InputItem): InputItem | InputItem[] {
  if (out === undefined) return it;
  out.push(it);
  return out;
}

/** The record a parsed value adapts to, or the reject saying why it does not (a splitter's bad piece too). */
function valueItem(p: Piece, v: unknown, file: string, entry: string | undefined, format: JsonFormat | undefined): InputItem {
  const src = sourceName(file, entry);
  const pos = position(p);
  if (p.bad !== undefined) return { kind: 'reject', reject: reject(src, pos, p.bad, p.text) };
  const a = adapt(v, format, entry ?? file);
  if ('reason' in a) return { kind: 'reject', reject: reject(src, pos, a.reason, p.text, a.format) };
  const prov: Provenance = { format: a.format, file, offset: p.offset };
  if (entry !== undefined) prov.entry = entry;
  if (p.index !== undefined) prov.index = p.index;
  else prov.line = p.line;
  return { kind: 'record', record: a.record, prov };
}

/**
 * What to do with the EVTX members of an archive (named `*.evtx`, any case). This module reads JSON only:
 * the caller that knows EVTX (ingest/sources.ts) passes `read`, which must consume `chunks` before it
 * ends. Without it the members are passed over (the learning pass: EVTX teaches no clock), and `skipped`
 * hears of each.
 */
export interface EvtxMembers<T extends InputItem | ChunkPiece = InputItem> {
  read?: (file: string, entry: string, chunks: AsyncIterable<Buffer>) => AsyncIterable<T>;
  skipped?: (entry: string) => void;
}

export function isEvtxMember(name: string | undefined): name is string {
  // A member `x.evtx.gz` of a zip or tar reaches its reader inflated already (archive.ts).
  return name !== undefined && /\.evtx(\.gz)?$/i.test(name);
}

/**
 * Read one JSON input (or archive). `format` forces the shape (else each object is detected on its own).
 * Entry-level failures (encrypted zip member, bad gzip) become rejects; only an unopenable file throws.
 */
export async function* readJsonFile(file: string, format?: JsonFormat, evtx: EvtxMembers = {}): AsyncGenerator<InputItem> {
  for await (const r of readJsonPieces(file, evtx)) {
    const it = r.kind === 'piece' ? pieceItem(r.piece, file, r.entry, format) : r;
    if (Array.isArray(it)) for (const x of it) yield x;
    else yield it;
  }
}

/**
 * As readJsonFile, with each piece's text left unparsed (EVTX members come as items); of a zip, only the
 * entries in `range` when given.
 */
export async function* readJsonPieces<T extends InputItem | ChunkPiece = InputItem>(file: string, evtx: EvtxMembers<T> = {}, range?: EntryRange): AsyncGenerator<PieceItem | InputItem | T> {
  // Streams open lazily and would report a missing or forbidden file as a bad entry: open it first.
  await (await open(file, 'r')).close();
  for await (const e of openEntries(file, range)) {
    if ('error' in e) {
      yield { kind: 'reject', reject: reject(sourceName(file, e.name), 'entry', e.error, '') };
      continue;
    }
    if (isEvtxMember(e.name)) {
      if (evtx.read) yield* evtx.read(file, e.name, e.chunks);
      else evtx.skipped?.(e.name);
      continue;
    }
    // The first bytes tell a log or an archive that its name hides, and UTF-16 text.
    const peeked = await peek(e.chunks);
    const sig = signature(peeked.head);
    if (sig === 'evtx') {
      // Unnamed: a gzipped file's content.
      const name = e.name ?? gunzippedName(file);
      if (evtx.read) yield* evtx.read(file, name, peeked.chunks);
      else { evtx.skipped?.(name); await peeked.close(); }
      continue;
    }
    if (sig !== undefined) {
      await peeked.close();
      const what = e.name === undefined ? `holds a ${sig} archive (compressed again?)` : `is a ${sig} archive inside the archive`;
      yield { kind: 'reject', reject: reject(sourceName(file, e.name), 'entry', `${what}: not opened (one level of archive is read); extract it and name it on the command line`, '') };
      continue;
    }
    const encoding = textEncoding(peeked.head);
    const text = encoding === 'utf8' ? peeked.chunks : utf16ToUtf8(peeked.chunks, encoding);
    let pieces = 0, notUtf8 = 0, first: Piece | undefined;
    try {
      for await (const p of splitJson(text)) {
        pieces++;
        if (encoding !== 'utf8') p.utf16 = true;
        else if (p.notUtf8) { notUtf8++; first ??= p; }
        yield e.name === undefined ? { kind: 'piece', piece: p } : { kind: 'piece', piece: p, entry: e.name };
      }
      // The records are kept, but their text is not what the file holds: said once per file, with where.
      if (first !== undefined) yield { kind: 'warning', source: sourceName(file, e.name), message: `${notUtf8} record(s) hold bytes that are not UTF-8, the first at ${position(first)}: read with U+FFFD in place of each bad sequence (is the file in another encoding, such as Windows-1252?)` };
      // An export that came out empty is worth a word: its host's events may be missing from the evidence.
      if (pieces === 0) yield { kind: 'warning', source: sourceName(file, e.name), message: 'holds no record (empty, whitespace only, or an empty array)' };
    } catch (err) {
      yield { kind: 'reject', reject: reject(sourceName(file, e.name), 'stream', `cannot read: ${(err as Error).message}`, '') };
    }
  }
}
