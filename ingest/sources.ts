// Every input the CLI accepts, as one stream of adapted records and rejects: EVTX files through
// ingest/evtx, JSON (plain or archived) through ingest/json, EVTX members of archives streamed from the
// archive into ingest/evtx. Directories are walked in name order.
import { readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { InputFormat } from '../schemas/event.js';
import { parseChunk, readEvtx, readEvtxChunks, type EvtxReadItem } from './evtx/index.js';
import { jsonFormat } from './json/detect.js';
import { fileKind } from './kind.js';
import { readJsonFile, reject, sourceName, type ChunkPiece, type EvtxMembers, type InputItem } from './json/read.js';

export type { InputItem } from './json/read.js';

const INPUT_EXT = /\.(evtx|json|jsonl|ndjson|zip|gz|tgz|tar)$/i;

export interface Input {
  path: string;
  /** Why the path cannot be read, when it cannot. */
  error?: string;
  /** Why the path is passed over on purpose (not an error). */
  skipped?: string;
}

/** The outputs every hunt writes: a directory met in a walk that holds them all is an earlier hunt's. */
const HUNT_ALWAYS = ['events.ndjson', 'sessions.ndjson', 'hops.ndjson', 'timeline.csv', 'findings.ndjson', 'report.html'];
/** What `hoptrail hunt` writes in its output directory (cli/hunt.ts). */
export const HUNT_OUTPUTS = [...HUNT_ALWAYS, 'rejects.ndjson', 'warnings.ndjson', 'es-rejects.ndjson'];

/**
 * The command line's paths: files as given (whatever their extension), directories searched recursively,
 * in name order so that runs repeat, for names `wanted` accepts. A path that cannot be opened or listed,
 * or that is not a regular file (a FIFO, a device, a socket), is an item with its error, and the walk goes on.
 */
export async function* walkInputs(paths: string[], wanted: (name: string) => boolean = (n) => INPUT_EXT.test(n)): AsyncGenerator<Input> {
  for (const p of paths) {
    let st;
    try {
      st = await stat(p);
    } catch (e) {
      yield { path: p, error: `cannot open: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
      continue;
    }
    if (st.isDirectory()) yield* walkDir(p, wanted, new Set(), true);
    else if (st.isFile()) yield { path: p };
    // Not opened: every input is read more than once (the learning pass, a file's ranges on workers), so
    // a pipe would give nothing the second time (a process substitution: no event and no word), wait for
    // a writer for ever, or, as a device (/dev/zero), never end. `dump` reads them itself (cli/dump.ts).
    else yield { path: p, error: `${kindOf(st)}, not a regular file: not read (inputs are read more than once); save it to a file first` };
  }
}

/** What a directory entry is, links followed: a file, a directory, or something else (named). */
type EntryKind = 'file' | 'dir' | string;

function kindOf(e: { isFile(): boolean; isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): EntryKind {
  if (e.isFile()) return 'file';
  if (e.isDirectory()) return 'dir';
  return e.isFIFO() ? 'a FIFO' : e.isSocket() ? 'a socket' : e.isCharacterDevice() ? 'a character device' : e.isBlockDevice() ? 'a block device' : 'not a file';
}

const NOT_UTF8 = 'a name that is not UTF-8';

/** A file name's bytes as text: UTF-8 where they are, each other byte as \xNN. */
function shownBytes(b: Buffer): string {
  let out = '';
  for (let i = 0; i < b.length;) {
    const n = b[i] < 0x80 ? 1 : b[i] >= 0xc2 && b[i] < 0xe0 ? 2 : b[i] >= 0xe0 && b[i] < 0xf0 ? 3 : b[i] >= 0xf0 && b[i] < 0xf5 ? 4 : 0;
    const seq = b.subarray(i, i + n);
    if (n > 0 && seq.length === n && Buffer.from(seq.toString('utf8'), 'utf8').equals(seq)) { out += seq.toString('utf8'); i += n; }
    else out += '\\x' + b[i++].toString(16).padStart(2, '0');
  }
  return out;
}

async function* walkDir(dir: string, wanted: (name: string) => boolean, seen: Set<string>, named = false): AsyncGenerator<Input> {
  const entries: { name: string; kind: EntryKind }[] = [];
  try {
    // Symbolic links are followed; a directory reached twice (a link loop) is walked once.
    const real = await realpath(dir);
    if (seen.has(real)) return;
    seen.add(real);
    // Names as bytes: a Linux file name need not be UTF-8, and node's string paths are UTF-8 only.
    for (const e of await readdir(dir, { withFileTypes: true, encoding: 'buffer' })) {
      const name = e.name.toString('utf8');
      if (!Buffer.from(name, 'utf8').equals(e.name)) entries.push({ name: shownBytes(e.name), kind: NOT_UTF8 });
      else if (!e.isSymbolicLink()) entries.push({ name, kind: kindOf(e) });
      else {
        // A link to itself, or a ring of links, is no broken link: ELOOP says which.
        const st = await stat(join(dir, name)).catch((err: NodeJS.ErrnoException) => err.code);
        entries.push({ name, kind: typeof st === 'object' ? kindOf(st) : st === 'ELOOP' ? 'a link loop (ELOOP)' : 'a broken link' });
      }
    }
  } catch (e) {
    yield { path: dir, error: `cannot list: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // An earlier hunt's output under the evidence (`case/ --out case/run1`, then again): read, its events
  // would be counted twice and its sessions and findings would be rejects. Named on the command line, it is
  // read as asked.
  if (!named && wanted(HUNT_ALWAYS[0]) && HUNT_ALWAYS.every((n) => entries.some((e) => e.name === n && e.kind === 'file'))) {
    yield { path: dir, skipped: `an earlier hunt's output directory (${HUNT_ALWAYS.join(', ')}): not read; name its events.ndjson to read its events` };
    return;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.kind === 'dir') yield* walkDir(p, wanted, seen);
    // No string opens it (its U+FFFD-decoded form names no file): said so whatever the name, as it may be
    // a log renamed, rather than 'ENOENT' for a file that is there.
    else if (e.kind === NOT_UTF8) yield { path: p, error: 'skipped: its name is not UTF-8 (each stray byte shown here as \\xNN), which hoptrail cannot open; rename it' };
    // A log renamed out of its extension (`Security`, `x.evtx.bak`) is still a log: its signature says so.
    else if (!wanted(e.name) && !(e.kind === 'file' && fileKind(p) === 'evtx')) continue;
    else if (e.kind === 'file') yield { path: p };
    // Opening a FIFO with no writer would wait for ever; a device may never end: reported, not read.
    else yield { path: p, error: `skipped: ${e.kind}, not a regular file` };
  }
}

/**
 * The input files under `paths`, each file once, with their size in all; the paths that could not be read
 * (with why); and notes on the paths passed over: a file already listed (with the path it was listed as),
 * or one of `own`, the files the command writes.
 */
export async function listInputs(paths: string[], own: string[] = []): Promise<{ files: string[]; bytes: number; errors: string[]; notes: string[] }> {
  const files: string[] = [], errors: string[] = [], notes: string[] = [];
  let bytes = 0;
  // A file named and also in a directory named, or named twice, or linked to: read twice, its events
  // would be counted twice and written twice to events.ndjson. Known by device and inode, not by name.
  const seen = new Map<string, string>();
  const statOf = (p: string) => stat(p).catch(() => undefined);
  const idOf = (st: { dev: number; ino: number } | undefined): string | undefined => (st ? `${st.dev}:${st.ino}` : undefined);
  // An output inside an input directory (--out under it, a rejects file or stdout redirected into it) would
  // be read while it is written: each reject of it written again and read again, until the disk is full.
  const outputs = new Set<string>();
  for (const p of own) {
    const id = idOf(await statOf(p));
    if (id !== undefined) outputs.add(id);
  }
  for await (const i of walkInputs(paths)) {
    if (i.error !== undefined) { errors.push(`${i.path}: ${i.error}`); continue; }
    if (i.skipped !== undefined) { notes.push(`${i.path}: ${i.skipped}`); continue; }
    const st = await statOf(i.path);
    const id = idOf(st);
    if (id !== undefined && outputs.has(id)) { notes.push(`${i.path}: an output of this run, not read`); continue; }
    const first = id === undefined ? undefined : seen.get(id);
    if (first !== undefined) { notes.push(`${i.path}: ${first === i.path ? 'named more than once' : `the same file as ${first}`}, read once`); continue; }
    if (id !== undefined) seen.set(id, i.path);
    files.push(i.path);
    bytes += st?.size ?? 0;
  }
  return { files, bytes, errors, notes };
}

/** As listInputs, for callers that must have every path: throws at the first that cannot be read. */
export async function expandPaths(paths: string[]): Promise<string[]> {
  const { files, errors } = await listInputs(paths);
  if (errors.length > 0) throw new Error(errors[0]);
  return files;
}

/** Whether a file is read as EVTX: by its signature, else its name, else `--input-format evtx` (ingest/kind.ts). */
export function isEvtxPath(p: string, format?: InputFormat): boolean {
  return fileKind(p, format) === 'evtx';
}

/**
 * One EVTX parser item as an input item: errors are rejects, warnings warnings. A fatal error throws for
 * a file; for an archive member (`entry`) it is a reject naming archive!member, and the archive goes on.
 */
export function evtxInputItem(file: string, it: EvtxReadItem, entry?: string): InputItem {
  if (it.kind === 'record') {
    const prov: InputItem & { kind: 'record' } = {
      kind: 'record', record: it.record,
      prov: entry === undefined ? { format: 'evtx', file, chunk: it.loc.chunk, offset: it.loc.offset } : { format: 'evtx', file, entry, chunk: it.loc.chunk, offset: it.loc.offset },
    };
    if (it.recovered) prov.prov.recovered = true;
    return prov;
  }
  const source = sourceName(file, entry);
  if (it.severity === 'fatal' && entry === undefined) throw new Error(it.message);
  if (it.severity === 'warning') return { kind: 'warning', source, message: `${place(it.loc)}: ${it.message}` };
  return { kind: 'reject', reject: reject(source, place(it.loc), it.message, '', 'evtx') };
}

/** Where in an EVTX file: a chunk and an offset, or the file header (the parser's chunk -1). */
function place(loc: { chunk: number; offset: number }): string {
  return loc.chunk < 0 ? `file header, offset ${loc.offset}` : `chunk ${loc.chunk}, offset ${loc.offset}`;
}

/** Records of one EVTX file; parser errors are rejects, warnings are warnings; a fatal error throws. */
export async function* readEvtxFile(file: string): AsyncGenerator<InputItem> {
  for await (const it of readEvtx(file)) yield evtxInputItem(file, it);
}

/**
 * Records of an EVTX member of an archive, streamed from its bytes (the parser holds a few chunks): the
 * items the extracted file gives, with the member named; a member that is not EVTX, or that the archive
 * cuts (a read error), is a reject, and the archive's other members are still read.
 */
export async function* readEvtxMember(file: string, entry: string, chunks: AsyncIterable<Buffer>): AsyncGenerator<InputItem> {
  for await (const it of readEvtx(chunks, { name: sourceName(file, entry) })) yield evtxInputItem(file, it, entry);
}

/** EVTX members of archives read as EVTX (readJsonFile's EvtxMembers). */
export const READ_EVTX_MEMBERS: EvtxMembers = { read: readEvtxMember };

/**
 * As readEvtxMember, with the chunks cut out and left unparsed (in their place among the other items),
 * for other threads to parse: parseMemberChunk gives what readEvtxMember would have.
 */
export async function* readEvtxMemberChunks(file: string, entry: string, chunks: AsyncIterable<Buffer>): AsyncGenerator<InputItem | ChunkPiece> {
  for await (const batch of readEvtxChunks(chunks, { name: sourceName(file, entry), unparsed: true })) {
    for (const it of batch.items) yield evtxInputItem(file, it, entry);
    if (batch.unparsed) yield { kind: 'chunk', entry, ...batch.unparsed };
  }
}

/** The items of a chunk readEvtxMemberChunks cut out (its bytes may have crossed threads as a Uint8Array). */
export function* parseMemberChunk(file: string, c: ChunkPiece): Generator<InputItem> {
  const bytes = Buffer.from(c.bytes.buffer, c.bytes.byteOffset, c.bytes.byteLength);
  for (const it of parseChunk(bytes, sourceName(file, c.entry), c.index, c.offset)) yield evtxInputItem(file, it, c.entry);
}

/** One input file of any supported kind. Throws when it cannot be opened or read at all. */
export function readInput(file: string, format?: InputFormat): AsyncGenerator<InputItem> {
  if (isEvtxPath(file, format)) return readEvtxFile(file);
  // An archive under --input-format evtx: its logs are found by their signature, its JSON members detected.
  return readJsonFile(file, jsonFormat(format), READ_EVTX_MEMBERS);
}
