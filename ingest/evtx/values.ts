// Decoding of BinXML typed values (MS-EVEN6 2.2.3 / libevtx "value types") into the strings Windows renders.
// Every read is bounds-checked by the caller's (offset, size); nothing here reads outside [off, off+size).

export const VT_NULL = 0x00;
export const VT_STRING = 0x01;
export const VT_ANSI = 0x02;
export const VT_INT8 = 0x03;
export const VT_UINT8 = 0x04;
export const VT_INT16 = 0x05;
export const VT_UINT16 = 0x06;
export const VT_INT32 = 0x07;
export const VT_UINT32 = 0x08;
export const VT_INT64 = 0x09;
export const VT_UINT64 = 0x0a;
export const VT_REAL32 = 0x0b;
export const VT_REAL64 = 0x0c;
export const VT_BOOL = 0x0d;
export const VT_BINARY = 0x0e;
export const VT_GUID = 0x0f;
export const VT_SIZET = 0x10;
export const VT_FILETIME = 0x11;
export const VT_SYSTEMTIME = 0x12;
export const VT_SID = 0x13;
export const VT_HEXINT32 = 0x14;
export const VT_HEXINT64 = 0x15;
export const VT_EVTHANDLE = 0x20;
export const VT_BINXML = 0x21;
export const VT_EVTXML = 0x23;
export const VT_ARRAY = 0x80;

export class ValueError extends Error {}

const HEX: string[] = [];
const HEXU: string[] = [];
for (let i = 0; i < 256; i++) {
  HEX.push((i < 16 ? '0' : '') + i.toString(16));
  HEXU.push((i < 16 ? '0' : '') + i.toString(16).toUpperCase());
}

const GUID_TEXT = /^\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}$/;
const TEXT_TIME = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d{1,7}))?(Z?)$/;
const HEX_TEXT = /^0x[0-9a-fA-F]+$/;

/**
 * The value conventions of rendered event text (../shared/corpus/README.md): line ends as in parsed XML
 * (CRLF and lone CR become LF), GUIDs written as text upper-cased, hex numbers written as text without
 * zero padding, and UTC times written as text ("YYYY-MM-DD hh:mm:ss.fff" as Sysmon's UtcTime, or ISO with
 * fewer digits) as ISO-8601 with 7 fractional digits.
 */
export function conventionalText(s: string): string {
  const n = s.length;
  if (n === 38 && s.charCodeAt(0) === 0x7b && GUID_TEXT.test(s)) return s.toUpperCase();
  const c10 = s.charCodeAt(10);
  if (n >= 19 && n <= 28 && (c10 === 0x20 || c10 === 0x54) && s.charCodeAt(4) === 0x2d) {
    const m = TEXT_TIME.exec(s);
    // A "T" form must say Z (UTC); a space form is Sysmon's UTC text.
    if (m !== null && (c10 === 0x20 ? m[4] === '' : m[4] === 'Z')) return `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(7, '0')}Z`;
  }
  if (n > 3 && s.charCodeAt(0) === 0x30 && s.charCodeAt(1) === 0x78 && s.charCodeAt(2) === 0x30 && HEX_TEXT.test(s)) {
    const digits = s.slice(2).replace(/^0+/, '').toLowerCase();
    return '0x' + (digits === '' ? '0' : digits);
  }
  if (s.indexOf('\r') >= 0) return s.replace(/\r\n?/g, '\n');
  return s;
}

/** UTF-16LE without the trailing NULs Windows often stores. */
export function utf16(b: Buffer, off: number, byteLen: number): string {
  let end = off + (byteLen & ~1);
  while (end > off && b[end - 1] === 0 && b[end - 2] === 0) end -= 2;
  const n = (end - off) >> 1;
  if (n === 0) return '';
  if (n <= 24) {
    // Short strings: a plain loop beats the native call's fixed cost.
    let s = '';
    for (let p = off; p < end; p += 2) s += String.fromCharCode(b[p] | (b[p + 1] << 8));
    return s;
  }
  return b.toString('utf16le', off, end);
}

function ansi(b: Buffer, off: number, size: number): string {
  let end = off + size;
  while (end > off && b[end - 1] === 0) end--;
  return b.toString('latin1', off, end);
}

export function u16(b: Buffer, o: number): number {
  return b[o] | (b[o + 1] << 8);
}

export function u32(b: Buffer, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x1000000;
}

function i32(b: Buffer, o: number): number {
  return b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);
}

export function hexBytesUpper(b: Buffer, off: number, size: number): string {
  let s = '';
  for (let i = off, e = off + size; i < e; i++) s += HEXU[b[i]];
  return s;
}

export function guid(b: Buffer, o: number): string {
  return (
    '{' +
    HEXU[b[o + 3]] + HEXU[b[o + 2]] + HEXU[b[o + 1]] + HEXU[b[o]] + '-' +
    HEXU[b[o + 5]] + HEXU[b[o + 4]] + '-' +
    HEXU[b[o + 7]] + HEXU[b[o + 6]] + '-' +
    HEXU[b[o + 8]] + HEXU[b[o + 9]] + '-' +
    HEXU[b[o + 10]] + HEXU[b[o + 11]] + HEXU[b[o + 12]] + HEXU[b[o + 13]] + HEXU[b[o + 14]] + HEXU[b[o + 15]] +
    '}'
  );
}

/** Length in bytes of the SID at o, or -1 if it does not fit in [o, end). */
export function sidLength(b: Buffer, o: number, end: number): number {
  if (o + 8 > end) return -1;
  const len = 8 + 4 * b[o + 1];
  return o + len <= end ? len : -1;
}

export function sid(b: Buffer, o: number, end: number): string {
  const len = sidLength(b, o, end);
  if (len < 0) throw new ValueError('SID runs past its value');
  const count = b[o + 1];
  // 48-bit big-endian identifier authority.
  const auth = b[o + 2] * 0x10000000000 + b[o + 3] * 0x100000000 + b[o + 4] * 0x1000000 + b[o + 5] * 0x10000 + b[o + 6] * 0x100 + b[o + 7];
  let s = 'S-' + b[o] + '-' + auth;
  for (let i = 0; i < count; i++) s += '-' + u32(b, o + 8 + 4 * i);
  return s;
}

function hex64(lo: number, hi: number): string {
  if (hi === 0) return '0x' + lo.toString(16);
  return '0x' + hi.toString(16) + lo.toString(16).padStart(8, '0');
}

function uint64(lo: number, hi: number): string {
  if (hi < 0x200000) return String(hi * 0x100000000 + lo);
  return ((BigInt(hi) << 32n) | BigInt(lo)).toString();
}

function int64(lo: number, hi: number): string {
  if (hi < 0x80000000) return uint64(lo, hi);
  // Negative: two's complement.
  if (hi === 0xffffffff && lo >= 0x80000000) return String(lo - 0x100000000);
  return ((BigInt(hi) << 32n) | BigInt(lo)) - (1n << 64n) + '';
}

const FILETIME_UNIX_DIFF_S = 11644473600;
let lastSec = -1;
let lastSecStr = '';

/** FILETIME (100 ns ticks since 1601) as ISO-8601 UTC with 7 fractional digits. */
export function filetime(lo: number, hi: number): string {
  if (hi >= 0x20000000) return filetimeBig(lo, hi);
  // 2^32 = 429 * 1e7 + 4967296: with hi < 2^29 every intermediate stays an exact integer below 2^53.
  const t = hi * 4967296 + lo;
  const q = Math.floor(t / 1e7);
  const rem = t - q * 1e7;
  const sec = hi * 429 + q - FILETIME_UNIX_DIFF_S;
  return secondsIso(sec) + '.' + String(rem).padStart(7, '0') + 'Z';
}

function filetimeBig(lo: number, hi: number): string {
  const v = (BigInt(hi) << 32n) | BigInt(lo);
  const sec = Number(v / 10000000n) - FILETIME_UNIX_DIFF_S;
  const rem = Number(v % 10000000n);
  return secondsIso(sec) + '.' + String(rem).padStart(7, '0') + 'Z';
}

export function secondsIso(sec: number): string {
  if (sec === lastSec) return lastSecStr;
  const iso = new Date(sec * 1000).toISOString();
  // toISOString gives "YYYY-MM-DDTHH:MM:SS.000Z" (or an expanded year); drop the milliseconds.
  const s = iso.slice(0, iso.length - 5);
  lastSec = sec;
  lastSecStr = s;
  return s;
}

export function systemtime(b: Buffer, o: number): string {
  const p2 = (n: number) => (n < 10 ? '0' : '') + n;
  const y = u16(b, o), mo = u16(b, o + 2), d = u16(b, o + 6);
  const h = u16(b, o + 8), mi = u16(b, o + 10), s = u16(b, o + 12), ms = u16(b, o + 14);
  return `${String(y).padStart(4, '0')}-${p2(mo)}-${p2(d)}T${p2(h)}:${p2(mi)}:${p2(s)}.${String(ms).padStart(3, '0')}0000Z`;
}

function real(n: number): string {
  // Windows prints reals with %g-like precision; JS shortest round-trip is close and lossless.
  return String(n);
}

/** Fixed item size of an array element type, or 0 when items are self-delimiting. */
function itemSize(base: number, size: number): number {
  switch (base) {
    case VT_INT8: case VT_UINT8: return 1;
    case VT_INT16: case VT_UINT16: return 2;
    case VT_INT32: case VT_UINT32: case VT_REAL32: case VT_BOOL: case VT_HEXINT32: return 4;
    case VT_INT64: case VT_UINT64: case VT_REAL64: case VT_FILETIME: case VT_HEXINT64: return 8;
    case VT_GUID: case VT_SYSTEMTIME: return 16;
    case VT_SIZET: return size % 8 === 0 ? 8 : 4;
    default: return 0;
  }
}

/** A scalar value of `type` held in exactly [o, o+size). */
export function scalar(b: Buffer, type: number, o: number, size: number): string {
  switch (type) {
    case VT_NULL: return '';
    case VT_STRING: return conventionalText(utf16(b, o, size));
    case VT_ANSI: return ansi(b, o, size);
    case VT_INT8: need(size, 1); return String((b[o] << 24) >> 24);
    case VT_UINT8: need(size, 1); return String(b[o]);
    case VT_INT16: need(size, 2); return String((u16(b, o) << 16) >> 16);
    case VT_UINT16: need(size, 2); return String(u16(b, o));
    case VT_INT32: need(size, 4); return String(i32(b, o));
    case VT_UINT32: need(size, 4); return String(u32(b, o));
    case VT_INT64: need(size, 8); return int64(u32(b, o), u32(b, o + 4));
    case VT_UINT64: need(size, 8); return uint64(u32(b, o), u32(b, o + 4));
    case VT_REAL32: need(size, 4); return real(b.readFloatLE(o));
    case VT_REAL64: need(size, 8); return real(b.readDoubleLE(o));
    case VT_BOOL: {
      // Irregular writers store other non-zero values and other widths; any non-zero byte means true.
      for (let i = 0; i < size; i++) if (b[o + i] !== 0) return 'true';
      return 'false';
    }
    case VT_BINARY: return hexBytesUpper(b, o, size);
    case VT_GUID: need(size, 16); return guid(b, o);
    case VT_SIZET:
      if (size === 4) return '0x' + u32(b, o).toString(16);
      need(size, 8);
      return hex64(u32(b, o), u32(b, o + 4));
    case VT_FILETIME: need(size, 8); return filetime(u32(b, o), u32(b, o + 4));
    case VT_SYSTEMTIME: need(size, 16); return systemtime(b, o);
    case VT_SID: return sid(b, o, o + size);
    case VT_HEXINT32: need(size, 4); return '0x' + u32(b, o).toString(16);
    case VT_HEXINT64: need(size, 8); return hex64(u32(b, o), u32(b, o + 4));
    case VT_EVTHANDLE:
      if (size === 4) return String(u32(b, o));
      need(size, 8);
      return uint64(u32(b, o), u32(b, o + 4));
    default:
      // Unknown type: keep the bytes rather than lose them.
      return hexBytesUpper(b, o, size);
  }
}

export function need(size: number, n: number): void {
  if (size < n) throw new ValueError(`value of ${size} bytes is too short (needs ${n})`);
}

/** An array value (type | 0x80): its items rendered as strings. */
export function arrayItems(b: Buffer, type: number, o: number, size: number): string[] {
  const base = type & 0x7f;
  const end = o + size;
  const out: string[] = [];
  if (base === VT_STRING) {
    // NUL-terminated UTF-16 strings back to back.
    let start = o;
    for (let p = o; p + 1 < end; p += 2) {
      if (b[p] === 0 && b[p + 1] === 0) {
        out.push(conventionalText(utf16(b, start, p - start)));
        start = p + 2;
      }
    }
    if (start + 1 < end) out.push(conventionalText(utf16(b, start, end - start)));
    return out;
  }
  if (base === VT_ANSI) {
    let start = o;
    for (let p = o; p < end; p++) {
      if (b[p] === 0) {
        out.push(b.toString('latin1', start, p));
        start = p + 1;
      }
    }
    if (start < end) out.push(b.toString('latin1', start, end));
    return out;
  }
  if (base === VT_SID) {
    let p = o;
    while (p < end) {
      const len = sidLength(b, p, end);
      if (len < 0) throw new ValueError('SID array item runs past its value');
      out.push(sid(b, p, end));
      p += len;
    }
    return out;
  }
  const n = itemSize(base, size);
  if (n === 0) return [scalar(b, base, o, size)];
  if (size % n !== 0) throw new ValueError(`array of ${size} bytes is not a whole number of ${n}-byte items`);
  for (let p = o; p < end; p += n) out.push(scalar(b, base, p, n));
  return out;
}
