// Opening inputs as byte streams: plain files, gzip, tar / tar.gz (a small streaming tar reader), and zip
// (a small central-directory reader; entries are inflated with node:zlib), each known by its signature or
// else its name (ingest/kind.ts). No whole file or entry is ever held in memory.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Transform } from 'node:stream';
import { constants as zconst, createGunzip as gunzip, createInflateRaw as inflateRaw, type Zlib } from 'node:zlib';
import { fileKind, signature } from '../kind.js';
import { peek } from './content.js';

// Bigger output chunks than zlib's 16 KiB default: fewer async hops per megabyte.
const Z = { chunkSize: 256 * 1024 };
const createGunzip = () => gunzip(Z);
const createInflateRaw = () => inflateRaw(Z);

export interface Entry {
  /** Member path inside an archive; undefined for a plain (or gzip) file. */
  name?: string;
  chunks: AsyncIterable<Buffer>;
}

/** An entry that could not be read (encrypted, unsupported method): reported, the rest goes on. */
export interface EntryError { name?: string; error: string }

/** The name of what a gzipped file holds: its own without `.gz` (a log known by its signature is named so). */
export function gunzippedName(path: string): string {
  return basename(path).replace(/\.gz$/i, '');
}

/** Central-directory entries [from, to) of a zip: a share of one archive for one worker (ingest/parallel). */
export interface EntryRange { from: number; to: number }

/**
 * The entries of an input file, in order (of a zip, only those in `range` when given). Throws only when
 * the file itself cannot be opened/read.
 */
export async function* openEntries(path: string, range?: EntryRange): AsyncGenerator<Entry | EntryError> {
  const kind = fileKind(path);
  if (kind === 'zip') yield* zipEntries(path, range);
  else if (kind === 'tgz') yield* tarEntries(inflated(createReadStream(path), createGunzip()));
  else if (kind === 'tar') yield* tarEntries(createReadStream(path));
  else if (kind === 'gz') {
    // A gzipped log (`Security.evtx.gz`) is a member named as the file it holds: it is read as EVTX.
    const inner = gunzippedName(path);
    const content = await peek(inflated(createReadStream(path), createGunzip()));
    // A tar gzipped under another name than .tar.gz / .tgz.
    if (signature(content.head) === 'tar') yield* tarEntries(content.chunks);
    else yield /\.evtx$/i.test(inner) ? { name: inner, chunks: content.chunks } : { chunks: content.chunks };
  }
  else yield { chunks: createReadStream(path, { highWaterMark: 1 << 20 }) };
}

// ---- tar ----

/**
 * Pulls exact byte counts out of an async chunk stream. A source that fails (a cut gzip) ends it, and the
 * error is kept for whoever reads past what came before it.
 */
class Pull {
  private buf: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer>;
  private ended = false;
  /** Bytes handed out so far (the archive offset of what comes next). */
  taken = 0;
  error: Error | undefined;
  constructor(src: AsyncIterable<Buffer>) { this.it = src[Symbol.asyncIterator](); }
  private async fill(n: number): Promise<void> {
    while (this.buf.length < n && !this.ended) {
      let r: IteratorResult<Buffer>;
      try {
        r = await this.it.next();
      } catch (e) {
        this.error = e as Error;
        this.ended = true;
        return;
      }
      if (r.done) this.ended = true;
      else this.buf = this.buf.length === 0 ? r.value : Buffer.concat([this.buf, r.value]);
    }
  }
  /** Up to n bytes (fewer only at the end). */
  async read(n: number): Promise<Buffer> {
    await this.fill(n);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(out.length);
    this.taken += out.length;
    return out;
  }
  /** Stop the source (destroys a Readable) when the consumer leaves early. */
  async close(): Promise<void> {
    await this.it.return?.();
  }
  /** Whatever is buffered (at least 1 byte unless at the end), at most n. */
  async some(n: number): Promise<Buffer> {
    if (this.buf.length === 0) await this.fill(1);
    const out = this.buf.subarray(0, Math.min(n, this.buf.length));
    this.buf = this.buf.subarray(out.length);
    this.taken += out.length;
    return out;
  }
}

function cstr(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return s.toString('utf8', 0, z < 0 ? s.length : z);
}

function octal(b: Buffer, off: number, len: number): number {
  if (b[off] & 0x80) { // GNU base-256 for big sizes
    let n = 0;
    for (let i = off + 1; i < off + len; i++) n = n * 256 + b[i];
    return n;
  }
  const t = cstr(b, off, len).trim();
  return t ? parseInt(t, 8) : 0;
}

/** A tar header's checksum: its bytes summed with the checksum field read as spaces (old tars: as signed bytes). */
function checksumOk(h: Buffer): boolean {
  let sum = 8 * 32, signed = 8 * 32;
  for (let i = 0; i < 512; i++) {
    if (i >= 148 && i < 156) continue;
    sum += h[i];
    signed += h[i] < 128 ? h[i] : h[i] - 256;
  }
  const stored = octal(h, 148, 8);
  return stored === sum || stored === signed;
}

async function* tarEntries(src: AsyncIterable<Buffer>): AsyncGenerator<Entry | EntryError> {
  const pull = new Pull(src);
  try {
    yield* tarBody(pull);
  } finally {
    await pull.close();
  }
}

async function* tarBody(pull: Pull): AsyncGenerator<Entry | EntryError> {
  let longName: string | undefined;
  let paxPath: string | undefined;
  // A cut or corrupt archive: a last entry error saying where it ends (the entries before are read).
  const cut = (what: string, name?: string, why?: string): EntryError => ({ name, error: `archive cannot be read ${what}: ${why ?? pull.error?.message ?? 'it ends there'}` });
  /** A member's reader was told already (its read failed): the archive's end is not reported twice. */
  let told = false;
  for (;;) {
    const at = pull.taken;
    const h = await pull.read(512);
    if (h.length < 512) {
      if (!told && (pull.error || h.length > 0)) yield cut(`past offset ${at}`);
      return;
    }
    if (h.every((x) => x === 0)) return;
    // A damaged header would give a made-up size, and every entry after it would be garbage.
    if (!checksumOk(h)) { yield cut(`past offset ${at}`, undefined, 'header checksum mismatch (damaged, or not a tar archive)'); return; }
    const size = octal(h, 124, 12);
    const type = String.fromCharCode(h[156] || 48);
    let name = cstr(h, 0, 100);
    if (cstr(h, 257, 5) === 'ustar') {
      const prefix = cstr(h, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    const padded = Math.ceil(size / 512) * 512;
    if (type === 'L' || type === 'x' || type === 'g') {
      const body = (await pull.read(padded)).subarray(0, size);
      if (type === 'L') longName = cstr(body, 0, body.length);
      else if (type === 'x') {
        const m = /\d+ path=([^\n]*)\n/.exec(body.toString('utf8'));
        if (m) paxPath = m[1];
      }
      continue;
    }
    name = paxPath ?? longName ?? name;
    paxPath = longName = undefined;
    if (type !== '0' && type !== '7') { await pull.read(padded); continue; }
    let left = size;
    async function* body(): AsyncGenerator<Buffer> {
      while (left > 0) {
        const b = await pull.some(Math.min(left, 1 << 20));
        // A cut archive must not pass for a short member: its reader hears where the member ends.
        if (b.length === 0) {
          told = true;
          throw new Error(`archive cannot be read past byte ${size - left} of this member (${size} bytes): ${pull.error?.message ?? 'it ends there'}`);
        }
        left -= b.length;
        yield b;
      }
    }
    const gz = name.toLowerCase().endsWith('.gz');
    const stream = body();
    yield { name, chunks: gz ? inflated(stream, createGunzip()) : stream };
    // Skip whatever the consumer did not read, then the padding.
    while (left > 0) {
      const b = await pull.some(Math.min(left, 1 << 20));
      if (b.length === 0) { if (!told) yield cut(`past byte ${size - left} of this member (${size} bytes)`, name); return; }
      left -= b.length;
    }
    if (padded > size) await pull.read(padded - size);
  }
}

/** Resolves when `start`'s callback runs, or the stream fails or closes first (a callback that never comes). */
function settled(z: Transform, start: (done: () => void) => void): Promise<void> {
  return new Promise<void>((r) => {
    const done = (): void => { z.off('close', done); z.off('error', done); r(); };
    z.on('close', done);
    z.on('error', done);
    start(done);
  });
}

/** Resolves when a writable may take more, or is gone (destroyed, failed). */
function drainOrClose(z: Transform): Promise<void> {
  return settled(z, (done) => z.once('drain', done));
}

/** Output held before feeding pauses. */
const INFLATE_AHEAD = 4 << 20;

/**
 * What `z` makes of `src`: every chunk it produced before an error, then the error. Iterating a zlib
 * stream would lose the output still buffered when a truncated input makes it fail, and how much
 * depended on timing; here the stream flows, and back-pressure is applied by feeding it less.
 */
export async function* inflated(src: AsyncIterable<Buffer>, z: Transform & Zlib): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let queued = 0, ended = false;
  let error: Error | undefined;
  let wake: (() => void) | undefined, room: (() => void) | undefined;
  const notify = (): void => { const w = wake; wake = undefined; w?.(); };
  const free = (): void => { const r = room; room = undefined; r?.(); };
  z.on('data', (b: Buffer) => { queue.push(b); queued += b.length; notify(); });
  z.on('end', () => { ended = true; notify(); });
  z.on('error', (e: Error) => { error ??= e; notify(); free(); });
  let stop = false;
  const feed = (async () => {
    try {
      for await (const b of src) {
        if (stop || error) return;
        if (!z.write(b)) await drainOrClose(z);
        while (queued > INFLATE_AHEAD && !error && !stop) await new Promise<void>((r) => { room = r; });
      }
      // Everything zlib still holds comes out first; only then may a cut input fail (Z_FINISH), so the
      // error never takes output with it.
      if (!stop && !error) await settled(z, (done) => z.flush(zconst.Z_SYNC_FLUSH, done));
      if (!stop && !error) await settled(z, (done) => z.flush(zconst.Z_FINISH, done));
      if (!stop && !error) z.end();
    } catch (e) {
      // The source itself failed (a read error): after what was inflated so far.
      error ??= e as Error;
      notify();
    }
  })();
  try {
    for (;;) {
      const b = queue.shift();
      if (b) {
        queued -= b.length;
        if (queued <= INFLATE_AHEAD) free();
        yield b;
        continue;
      }
      if (error) throw error;
      if (ended) break;
      await new Promise<void>((r) => { wake = r; });
    }
  } finally {
    stop = true;
    free();
    if (!ended) z.destroy();
    await feed;
  }
}

// ---- zip ----

interface ZipEntry {
  name: string; method: number; flags: number; compSize: number; localOffset: number;
  /** Where the data starts, when the local header was read already. */
  dataStart?: number;
}

/** The entry names of a zip, in central-directory order (directories too: they end with '/'). */
export async function zipNames(path: string): Promise<string[]> {
  return (await centralDirectory(path)).map((e) => e.name);
}

async function centralDirectory(path: string): Promise<ZipEntry[]> {
  const fh = await open(path, 'r');
  try {
    return await readCentralDirectory(fh);
  } finally {
    await fh.close();
  }
}

async function* zipEntries(path: string, range?: EntryRange): AsyncGenerator<Entry | EntryError> {
  let all: ZipEntry[];
  try {
    all = await centralDirectory(path);
  } catch (e) {
    // A zip cut short has lost its central directory (it comes last): its members are found from their
    // local headers instead, up to the cut. Not a zip at all (no member header at its start): unreadable.
    const found = await localHeaders(path);
    if (found.entries.length === 0) throw e;
    yield* zipMembers(path, found.entries);
    yield { error: `zip central directory not found (cut short?): ${found.entries.length} entries read from their local headers${found.stop ? `, then ${found.stop}` : ''}` };
    return;
  }
  yield* zipMembers(path, range ? all.slice(range.from, range.to) : all);
}

async function* zipMembers(path: string, entries: ZipEntry[]): AsyncGenerator<Entry | EntryError> {
  for (const e of entries) {
    if (e.name.endsWith('/')) continue;
    if (e.flags & 1) { yield { name: e.name, error: 'zip entry is encrypted' }; continue; }
    if (e.method !== 0 && e.method !== 8) { yield { name: e.name, error: `zip compression method ${e.method} is not supported (only stored and deflate)` }; continue; }
    const dataStart = e.dataStart ?? await zipDataStart(path, e);
    if (dataStart === undefined) { yield { name: e.name, error: 'zip local header signature not found' }; continue; }
    // Opened only when read: a member passed over holds no descriptor and no inflater.
    yield { name: e.name, chunks: lazy(() => zipMemberChunks(path, e, dataStart)) };
  }
}

/**
 * The members of a zip found by walking its local headers from the start (no central directory), and
 * why the walk stopped early, if it did. A member cut by the end of the file is listed: its reader hears
 * where it ends.
 */
async function localHeaders(path: string): Promise<{ entries: ZipEntry[]; stop?: string }> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const entries: ZipEntry[] = [];
    const h = Buffer.alloc(30);
    let pos = 0;
    for (;;) {
      if (pos >= size) return { entries };
      const cutHeader = `the archive ends inside a member header at offset ${pos}`;
      if ((await fh.read(h, 0, 30, pos)).bytesRead < 30) return { entries, stop: cutHeader };
      const sig = h.readUInt32LE(0);
      // The central directory's start (its end was cut): every member was found.
      if (sig === 0x02014b50) return { entries };
      if (sig !== 0x04034b50) return { entries, stop: `no member header at offset ${pos}` };
      const flags = h.readUInt16LE(6), method = h.readUInt16LE(8);
      let compSize = h.readUInt32LE(18);
      const nameLen = h.readUInt16LE(26), extraLen = h.readUInt16LE(28);
      const meta = Buffer.alloc(nameLen + extraLen);
      if ((await fh.read(meta, 0, meta.length, pos + 30)).bytesRead < meta.length) return { entries, stop: cutHeader };
      const name = meta.toString(flags & 0x800 ? 'utf8' : 'latin1', 0, nameLen);
      // zip64: a local header's extra field holds both sizes, uncompressed first.
      for (let x = nameLen; x + 4 <= meta.length; x += 4 + meta.readUInt16LE(x + 2)) {
        if (meta.readUInt16LE(x) === 1 && compSize === 0xffffffff && x + 20 <= meta.length) compSize = Number(meta.readBigUInt64LE(x + 12));
      }
      // Sizes written after the data (a zip made as a stream): the data's end cannot be found here.
      if (flags & 8 && compSize === 0) return { entries, stop: `member ${name} gives its size after its data: it and what follows cannot be found without the central directory` };
      const dataStart = pos + 30 + nameLen + extraLen;
      entries.push({ name, method, flags, compSize, localOffset: pos, dataStart });
      pos = dataStart + compSize;
      if (flags & 8) {
        // The data descriptor: an optional signature, CRC-32 and the two sizes (8 bytes each in zip64).
        const d = Buffer.alloc(4);
        await fh.read(d, 0, 4, pos);
        pos += (d.readUInt32LE(0) === 0x08074b50 ? 4 : 0) + (h.readUInt32LE(18) === 0xffffffff ? 20 : 12);
      }
    }
  } finally {
    await fh.close();
  }
}

/** Where a zip member's data starts (after its local header), or undefined when no local header is there. */
async function zipDataStart(path: string, e: ZipEntry): Promise<number | undefined> {
  const lh = Buffer.alloc(30);
  const f = await open(path, 'r');
  try { await f.read(lh, 0, 30, e.localOffset); } finally { await f.close(); }
  if (lh.readUInt32LE(0) !== 0x04034b50) return undefined;
  return e.localOffset + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28);
}

function zipMemberChunks(path: string, e: ZipEntry, dataStart: number): AsyncIterable<Buffer> {
  const raw: AsyncIterable<Buffer> = e.compSize > 0 ? whole(createReadStream(path, { start: dataStart, end: dataStart + e.compSize - 1, highWaterMark: 1 << 20 }), e.compSize) : (async function* () { /* empty */ })();
  let chunks = e.method === 8 && e.compSize > 0 ? inflated(raw, createInflateRaw()) : raw;
  if (e.name.toLowerCase().endsWith('.gz')) chunks = inflated(chunks, createGunzip());
  return chunks;
}

/** The bytes of `src`, which must be `size` long: a cut file is an error, not a short member. */
async function* whole(src: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let got = 0;
  for await (const b of src) {
    got += b.length;
    yield b;
  }
  if (got < size) throw new Error(`archive ends inside this member (${got} of its ${size} stored bytes)`);
}

/** An iterable made on first use; leaving it early ends what was made (yield* passes return() on). */
async function* lazy(make: () => AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield* make();
}

async function readCentralDirectory(fh: import('node:fs/promises').FileHandle): Promise<ZipEntry[]> {
  const size = (await fh.stat()).size;
  const tailLen = Math.min(size, 22 + 65535 + 20);
  const tail = Buffer.alloc(tailLen);
  await fh.read(tail, 0, tailLen, size - tailLen);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) if (tail.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  if (eocd < 0) throw new Error('not a zip file (no end of central directory)');
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  if ((count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) && eocd >= 20 && tail.readUInt32LE(eocd - 20) === 0x07064b50) {
    const z64 = Number(tail.readBigUInt64LE(eocd - 20 + 8));
    const rec = Buffer.alloc(56);
    await fh.read(rec, 0, 56, z64);
    if (rec.readUInt32LE(0) !== 0x06064b50) throw new Error('bad zip64 end of central directory');
    count = Number(rec.readBigUInt64LE(32));
    cdSize = Number(rec.readBigUInt64LE(40));
    cdOffset = Number(rec.readBigUInt64LE(48));
  }
  const cd = Buffer.alloc(cdSize);
  await fh.read(cd, 0, cdSize, cdOffset);
  const out: ZipEntry[] = [];
  let p = 0;
  for (let n = 0; n < count && p + 46 <= cd.length; n++) {
    if (cd.readUInt32LE(p) !== 0x02014b50) throw new Error(`bad zip central directory entry at ${cdOffset + p}`);
    const flags = cd.readUInt16LE(p + 8);
    const method = cd.readUInt16LE(p + 10);
    let compSize = cd.readUInt32LE(p + 20);
    const uncomp = cd.readUInt32LE(p + 24);
    const nameLen = cd.readUInt16LE(p + 28), extraLen = cd.readUInt16LE(p + 30), commentLen = cd.readUInt16LE(p + 32);
    let localOffset = cd.readUInt32LE(p + 42);
    const name = cd.toString(flags & 0x800 ? 'utf8' : 'latin1', p + 46, p + 46 + nameLen);
    // zip64 extra field: the 64-bit values appear in order for the fields that are 0xffffffff.
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = cd.readUInt16LE(x), len = cd.readUInt16LE(x + 2);
      if (id === 1) {
        let q = x + 4;
        if (uncomp === 0xffffffff) q += 8;
        if (compSize === 0xffffffff) { compSize = Number(cd.readBigUInt64LE(q)); q += 8; }
        if (localOffset === 0xffffffff) localOffset = Number(cd.readBigUInt64LE(q));
      }
      x += 4 + len;
    }
    out.push({ name, method, flags, compSize, localOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}
