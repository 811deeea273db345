// A byte-level JSON writer: the records' JSON lines go straight into one growing Buffer as UTF-8, values
// transcoded from the chunk's bytes, so that most values never become a JS string. Escaping is exactly
// JSON.stringify's (short escapes, \u00xx lower-case, lone surrogates as \udxxx), so the bytes equal
// Buffer.from(JSON.stringify(value)) of the value the object path gives (a test checks this).
// One writer per thread; a chunk walk is synchronous, so it never interleaves with another.

import { conventionalText, filetime, need, scalar, secondsIso, sidLength, u32, utf16, ValueError, VT_ANSI, VT_BINARY, VT_FILETIME, VT_GUID, VT_INT16, VT_INT32, VT_INT8, VT_SID, VT_STRING, VT_UINT16, VT_UINT32, VT_UINT8 } from './values.js';

/** Where lines are written; handed over whole by jsonTake (see newOutput for its memory). */
let ob: Buffer = Buffer.allocUnsafeSlow(1 << 18);
let pos = 0;

// Typed array methods called directly: `ob.set` looks through Buffer.prototype, and optimized code did
// that lookup by a LoadIC call each time (~20% of the time spent writing keys).
const setBytes = Uint8Array.prototype.set;
const copyWithinBytes = Uint8Array.prototype.copyWithin;

export function jsonPos(): number {
  return pos;
}

/** The bytes written at [from, to), in place (valid until the writer moves on). */
export function jsonBytes(from: number, to: number): Buffer {
  return ob.subarray(from, to);
}

/** Drops what was written after `p` (a record that failed half-way). */
export function jsonRewind(p: number): void {
  pos = p;
  gen++;
}

/**
 * Counts rewinds and takes: bytes written at a position stay there, unchanged, until it changes (so that
 * a value written again can be copied from where it was written last, by copyWithin, not a byte loop).
 */
let gen = 0;

export function jsonGen(): number {
  return gen;
}

/** Writes again the `len` bytes written at `from` (in this generation). */
export function again(from: number, len: number): void {
  room(len);
  copyWithinBytes.call(ob, pos, from, from + len);
  pos += len;
}

/** Output memory given back once written (releaseBytes): the next chunks' lines go there, not to new memory. */
const spare: (ArrayBuffer | SharedArrayBuffer)[] = [];
/**
 * Output in shared memory (set on worker threads): it crosses threads without a transfer. A transfer
 * detaches an ArrayBuffer, and the first detach in a thread makes V8 add a detach check to every typed
 * array access its optimized code makes from then on (measured: the parser ~20% slower on both threads).
 */
let shared = false;

export function shareOutput(): void {
  shared = true;
  ob = newOutput(ob.length);
}
/** Output buffers are at least this large (so that one given back fits most chunks), and kept up to 1 MiB. */
const OUT_MIN = 256 << 10;
const OUT_KEEP_MAX = 1 << 20;
const SPARE_MAX = 16;

/** Memory for lines: this thread's own, or shared with the others (see `shared`). */
function newOutput(n: number): Buffer {
  return shared ? Buffer.from(new SharedArrayBuffer(n)) : Buffer.allocUnsafeSlow(n);
}

/** Memory given back (releaseBytes) of at least `n` bytes, if some is large enough; taken from the list. */
function spareMemory(n: number): ArrayBuffer | SharedArrayBuffer | undefined {
  for (let i = spare.length - 1; i >= 0; i--) if (spare[i].byteLength >= n) return spare.splice(i, 1)[0];
  return undefined;
}

/**
 * The bytes written since the last take, in a Buffer whose memory is its own (so that it can be handed
 * to another thread; it may be larger than the bytes), and resets. The lines are not copied: the memory
 * they were written in is handed over, and writing goes on in memory given back (or new).
 */
export function jsonTake(): Buffer {
  const out = ob.subarray(0, pos);
  // After a huge chunk of output, writing goes back to a standard size: the memory is not kept pinned.
  const size = ob.length > OUT_KEEP_MAX ? OUT_MIN : ob.length;
  const m = spareMemory(size);
  ob = m !== undefined ? Buffer.from(m) : newOutput(size);
  pos = 0;
  gen++;
  return out;
}

/**
 * `src` in memory of this thread's own (memory given back when there is some), as releaseBytes takes it
 * back: JSON lines a worker wrote in shared memory are copied out at once, so that its memory returns to
 * that worker with its next chunk, and the shared memory in use stays a few buffers per worker.
 */
export function ownCopy(src: Uint8Array): Buffer {
  const n = src.length;
  const m = spareMemory(n);
  const out = m !== undefined ? Buffer.from(m, 0, n) : Buffer.allocUnsafeSlow(Math.max(n, OUT_MIN)).subarray(0, n);
  out.set(src);
  return out;
}

/**
 * Gives back the memory of a `bytes` result (jsonTake, ownCopy) once it is written out and referenced no
 * more: this thread's next chunks' lines go there instead of into new memory; false when it is not such
 * memory or enough is kept already.
 */
export function releaseBytes(b: Buffer): boolean {
  const ab = b.buffer;
  if (!(ab instanceof (shared ? SharedArrayBuffer : ArrayBuffer)) || b.byteOffset !== 0 || ab.byteLength < OUT_MIN || ab.byteLength > OUT_KEEP_MAX || spare.length >= SPARE_MAX) return false;
  if (spare.includes(ab)) return true;
  spare.push(ab);
  return true;
}

function room(n: number): void {
  if (pos + n > ob.length) {
    let cap = ob.length * 2;
    while (cap < pos + n) cap *= 2;
    const g = newOutput(cap);
    ob.copy(g, 0, 0, pos);
    ob = g;
  }
}

/** Constant ASCII text (keys and punctuation), as bytes made once. */
export function bytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'utf8'));
}

// set() rather than a byte loop: 8.6% fewer instructions in all for `dump` of the System log (callgrind);
// the wall time did not change measurably.
export function raw(a: Uint8Array): void {
  room(a.length);
  setBytes.call(ob, a, pos);
  pos += a.length;
}

export function byte(c: number): void {
  room(1);
  ob[pos++] = c;
}

/** Text that is already JSON (from JSON.stringify: well-formed, so plain UTF-8). */
export function rawString(s: string): void {
  room(s.length * 3);
  pos += ob.write(s, pos, 'utf8');
}

/** ASCII text needing no escape (digits, times, hex). */
function ascii(s: string): void {
  const n = s.length;
  room(n);
  const o = ob;
  let q = pos;
  for (let i = 0; i < n; i++) o[q++] = s.charCodeAt(i);
  pos = q;
}

const HEXL = [0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66];
const HEXU = [0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46];

/** JSON.stringify's escape of an ASCII control character, quote or backslash; returns the new position. */
function esc(o: Buffer, q: number, c: number): number {
  o[q++] = 0x5c;
  switch (c) {
    case 0x22: o[q++] = 0x22; return q;
    case 0x5c: o[q++] = 0x5c; return q;
    case 0x08: o[q++] = 0x62; return q;
    case 0x09: o[q++] = 0x74; return q;
    case 0x0a: o[q++] = 0x6e; return q;
    case 0x0c: o[q++] = 0x66; return q;
    case 0x0d: o[q++] = 0x72; return q;
    default: return hex4(o, q, c);
  }
}

/** `u` and four lower-case hex digits (after the backslash). */
function hex4(o: Buffer, q: number, c: number): number {
  o[q++] = 0x75;
  o[q++] = HEXL[(c >> 12) & 15];
  o[q++] = HEXL[(c >> 8) & 15];
  o[q++] = HEXL[(c >> 4) & 15];
  o[q++] = HEXL[c & 15];
  return q;
}

/** A JS string as a JSON string (quotes included). */
export function str(s: string): void {
  const n = s.length;
  room(n * 6 + 2);
  const o = ob;
  let q = pos;
  o[q++] = 0x22;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      if (c >= 0x20 && c !== 0x22 && c !== 0x5c) o[q++] = c;
      else q = esc(o, q, c);
    } else if (c < 0x800) {
      o[q++] = 0xc0 | (c >> 6);
      o[q++] = 0x80 | (c & 63);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        q = utf8Pair(o, q, c, d);
        i++;
      } else {
        o[q++] = 0x5c;
        q = hex4(o, q, c);
      }
    } else {
      o[q++] = 0xe0 | (c >> 12);
      o[q++] = 0x80 | ((c >> 6) & 63);
      o[q++] = 0x80 | (c & 63);
    }
  }
  o[q++] = 0x22;
  pos = q;
}

function utf8Pair(o: Buffer, q: number, hi: number, lo: number): number {
  const cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
  o[q++] = 0xf0 | (cp >> 18);
  o[q++] = 0x80 | ((cp >> 12) & 63);
  o[q++] = 0x80 | ((cp >> 6) & 63);
  o[q++] = 0x80 | (cp & 63);
  return q;
}

/** A number as JSON writes it. */
export function num(n: number): void {
  if (n >= 0 && n <= 0x1fffffffffffff && Math.floor(n) === n) {
    digits(n);
  } else if (n < 0 && n >= -0x1fffffffffffff && Math.floor(n) === n) {
    byte(0x2d);
    digits(-n);
  } else {
    ascii(String(n));
  }
}

const DIG = new Uint8Array(20);

// Small integers (most fields) are written in place, from the last digit back: half the typed array
// accesses of a reversed copy, which counts while the code is still interpreted.
function digits(n: number): void {
  if (n < 0x80000000) {
    let m = n | 0;
    const k = m < 10 ? 1 : m < 100 ? 2 : m < 1000 ? 3 : m < 10000 ? 4 : m < 100000 ? 5 : m < 1000000 ? 6 : m < 10000000 ? 7 : m < 100000000 ? 8 : m < 1000000000 ? 9 : 10;
    room(k);
    const o = ob;
    let q = pos + k;
    pos = q;
    do {
      const d = (m / 10) | 0;
      o[--q] = 0x30 + (m - d * 10);
      m = d;
    } while (m > 0);
    return;
  }
  let k = 0;
  do {
    const d = Math.floor(n / 10);
    DIG[k++] = 0x30 + (n - d * 10);
    n = d;
  } while (n > 0);
  room(k);
  const o = ob;
  let q = pos;
  while (k > 0) o[q++] = DIG[--k];
  pos = q;
}

function quotedNum(n: number): void {
  byte(0x22);
  num(n);
  byte(0x22);
}

/** A UTF-16LE value as a JSON string, with conventionalText's conventions (as scalar renders it). */
function utf16Value(b: Buffer, off: number, size: number): void {
  let end = off + (size & ~1);
  while (end > off && b[end - 1] === 0 && b[end - 2] === 0) end -= 2;
  const n = (end - off) >> 1;
  // Text that conventionalText may rewrite (GUID, time or hex text) takes the string way; CR is done here.
  if (n >= 19 && n <= 38) {
    const c10 = b[off + 20] | (b[off + 21] << 8);
    if ((n === 38 && b[off] === 0x7b && b[off + 1] === 0) || (n <= 28 && (c10 === 0x20 || c10 === 0x54) && b[off + 8] === 0x2d && b[off + 9] === 0)) {
      str(conventionalText(utf16(b, off, size)));
      return;
    }
  }
  if (n > 3 && b[off] === 0x30 && b[off + 1] === 0 && b[off + 2] === 0x78 && b[off + 3] === 0 && b[off + 4] === 0x30 && b[off + 5] === 0) {
    str(conventionalText(utf16(b, off, size)));
    return;
  }
  room(n * 6 + 2);
  const o = ob;
  let q = pos;
  o[q++] = 0x22;
  for (let i = off; i < end; i += 2) {
    const c = b[i] | (b[i + 1] << 8);
    if (c < 0x80) {
      if (c >= 0x20 && c !== 0x22 && c !== 0x5c) o[q++] = c;
      else if (c === 0x0d) {
        // Line ends as in parsed XML: CRLF and a lone CR become LF.
        o[q++] = 0x5c;
        o[q++] = 0x6e;
        if (i + 3 < end && b[i + 2] === 0x0a && b[i + 3] === 0) i += 2;
      } else q = esc(o, q, c);
    } else if (c < 0x800) {
      o[q++] = 0xc0 | (c >> 6);
      o[q++] = 0x80 | (c & 63);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 3 < end ? b[i + 2] | (b[i + 3] << 8) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        q = utf8Pair(o, q, c, d);
        i += 2;
      } else {
        o[q++] = 0x5c;
        q = hex4(o, q, c);
      }
    } else {
      o[q++] = 0xe0 | (c >> 12);
      o[q++] = 0x80 | ((c >> 6) & 63);
      o[q++] = 0x80 | (c & 63);
    }
  }
  o[q++] = 0x22;
  pos = q;
}

/** Latin-1 text without its trailing NULs, as a JSON string. */
function ansiValue(b: Buffer, off: number, size: number): void {
  let end = off + size;
  while (end > off && b[end - 1] === 0) end--;
  room((end - off) * 6 + 2);
  const o = ob;
  let q = pos;
  o[q++] = 0x22;
  for (let i = off; i < end; i++) {
    const c = b[i];
    if (c < 0x80) {
      if (c >= 0x20 && c !== 0x22 && c !== 0x5c) o[q++] = c;
      else q = esc(o, q, c);
    } else {
      o[q++] = 0xc0 | (c >> 6);
      o[q++] = 0x80 | (c & 63);
    }
  }
  o[q++] = 0x22;
  pos = q;
}

function hexByte(o: Buffer, q: number, v: number, table: number[]): number {
  o[q++] = table[v >> 4];
  o[q++] = table[v & 15];
  return q;
}

function guidValue(b: Buffer, p: number): void {
  room(40);
  const o = ob;
  let q = pos;
  o[q++] = 0x22;
  o[q++] = 0x7b;
  q = hexByte(o, q, b[p + 3], HEXU);
  q = hexByte(o, q, b[p + 2], HEXU);
  q = hexByte(o, q, b[p + 1], HEXU);
  q = hexByte(o, q, b[p], HEXU);
  o[q++] = 0x2d;
  q = hexByte(o, q, b[p + 5], HEXU);
  q = hexByte(o, q, b[p + 4], HEXU);
  o[q++] = 0x2d;
  q = hexByte(o, q, b[p + 7], HEXU);
  q = hexByte(o, q, b[p + 6], HEXU);
  o[q++] = 0x2d;
  q = hexByte(o, q, b[p + 8], HEXU);
  q = hexByte(o, q, b[p + 9], HEXU);
  o[q++] = 0x2d;
  for (let i = 10; i < 16; i++) q = hexByte(o, q, b[p + i], HEXU);
  o[q++] = 0x7d;
  o[q++] = 0x22;
  pos = q;
}

function binaryValue(b: Buffer, p: number, size: number): void {
  room(2 * size + 2);
  const o = ob;
  let q = pos;
  o[q++] = 0x22;
  for (let i = p, e = p + size; i < e; i++) q = hexByte(o, q, b[i], HEXU);
  o[q++] = 0x22;
  pos = q;
}

function sidValue(b: Buffer, p: number, size: number): void {
  if (sidLength(b, p, p + size) < 0) throw new ValueError('SID runs past its value');
  const count = b[p + 1];
  const auth = b[p + 2] * 0x10000000000 + b[p + 3] * 0x100000000 + b[p + 4] * 0x1000000 + b[p + 5] * 0x10000 + b[p + 6] * 0x100 + b[p + 7];
  byte(0x22);
  byte(0x53);
  byte(0x2d);
  digits(b[p]);
  byte(0x2d);
  digits(auth);
  for (let i = 0; i < count; i++) {
    byte(0x2d);
    digits(u32(b, p + 8 + 4 * i));
  }
  byte(0x22);
}

/** The second of the last time written and its ISO text ("YYYY-MM-DDTHH:MM:SS") as bytes. */
let lastSec = NaN;
const lastSecBytes = new Uint8Array(40);
let lastSecLen = 0;
/** The last FILETIME written and where its JSON text is: a record's header time and TimeCreated are usually the same. */
let lastLo = -1;
let lastHi = -1;
let lastAt = 0;
let lastLen = 0;
let lastGen = -1;

// Rare paths kept out of filetimeValue, which is optimized early and often: small graphs compile sooner.
function setSecond(sec: number): void {
  const s = secondsIso(sec);
  const n = Math.min(s.length, lastSecBytes.length);
  for (let i = 0; i < n; i++) lastSecBytes[i] = s.charCodeAt(i);
  lastSecLen = n;
  lastSec = sec;
}

function bigFiletime(lo: number, hi: number): void {
  byte(0x22);
  ascii(filetime(lo, hi));
  byte(0x22);
}

/** A FILETIME as filetime() renders it, quoted. */
export function filetimeValue(lo: number, hi: number): void {
  if (lo === lastLo && hi === lastHi && lastGen === gen) return again(lastAt, lastLen);
  if (hi >= 0x20000000) return bigFiletime(lo, hi);
  const start = pos;
  timeText(lo, hi, 7);
  lastAt = start;
  lastLen = pos - start;
  lastLo = lo;
  lastHi = hi;
  lastGen = gen;
}

/**
 * A FILETIME as a time to the millisecond, `"YYYY-MM-DDTHH:MM:SS.mmmZ"` (the fraction cut, not rounded:
 * as normalizing filetime()'s text gives it); false, writing nothing, for a FILETIME of 2^61 ticks or
 * more (from the year 8911: rare, and a five-digit year is no such time).
 */
export function filetimeMillis(lo: number, hi: number): boolean {
  if (hi >= 0x20000000) return false;
  timeText(lo, hi, 3);
  return true;
}

/** `"YYYY-MM-DDTHH:MM:SS.<fraction>Z"` of a FILETIME below 2^61 ticks, with the first `digits` (7 or 3) of its 7. */
function timeText(lo: number, hi: number, digits: number): void {
  // 2^32 = 429 * 1e7 + 4967296: with hi < 2^29 every intermediate stays an exact integer below 2^53.
  const t = hi * 4967296 + lo;
  const qs = Math.floor(t / 1e7);
  let frac = (t - qs * 1e7) | 0;
  if (digits === 3) frac = (frac / 10000) | 0;
  const sec = hi * 429 + qs - 11644473600;
  if (sec !== lastSec) setSecond(sec);
  const sb = lastSecBytes;
  const sl = lastSecLen;
  room(sl + digits + 4);
  const o = ob;
  let q = pos;
  o[q++] = 0x22;
  for (let i = 0; i < sl; i++) o[q++] = sb[i];
  o[q++] = 0x2e;
  for (let i = digits; i > 0; i--) {
    const d = (frac / 10) | 0;
    o[q + i - 1] = 0x30 + (frac - d * 10);
    frac = d;
  }
  q += digits;
  o[q++] = 0x5a;
  o[q++] = 0x22;
  pos = q;
}

/** A HexInt64 with all 16 digits (as Keywords are shown), quoted. */
export function hex64Padded(b: Buffer, p: number): void {
  room(20);
  const o = ob;
  let q = pos;
  o[q++] = 0x22;
  o[q++] = 0x30;
  o[q++] = 0x78;
  for (let i = 7; i >= 0; i--) q = hexByte(o, q, b[p + i], HEXL);
  o[q++] = 0x22;
  pos = q;
}

/** A scalar value as a JSON string: the bytes of JSON.stringify(scalar(b, vt, off, size)), UTF-8. */
export function value(b: Buffer, vt: number, off: number, size: number): void {
  switch (vt) {
    case VT_STRING: return utf16Value(b, off, size);
    case VT_ANSI: return ansiValue(b, off, size);
    case VT_UINT8: need(size, 1); return quotedNum(b[off]);
    case VT_INT8: need(size, 1); return quotedNum((b[off] << 24) >> 24);
    case VT_UINT16: need(size, 2); return quotedNum(b[off] | (b[off + 1] << 8));
    case VT_INT16: need(size, 2); return quotedNum(((b[off] | (b[off + 1] << 8)) << 16) >> 16);
    case VT_UINT32: need(size, 4); return quotedNum(u32(b, off));
    case VT_INT32: need(size, 4); return quotedNum(b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24));
    case VT_GUID: need(size, 16); return guidValue(b, off);
    case VT_SID: return sidValue(b, off, size);
    case VT_BINARY: return binaryValue(b, off, size);
    case VT_FILETIME: need(size, 8); return filetimeValue(u32(b, off), u32(b, off + 4));
    default: return str(scalar(b, vt, off, size));
  }
}
