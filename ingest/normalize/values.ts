// Value conventions shared by every extractor: placeholders, insertion strings, numbers, names, times.
// Everything here is on the hot path: plain loops and string checks, no regexes where a char test does.
import { setOwn } from '../own.js';

/** Message-table insertion strings Windows leaves as `%%N` in event data, with their rendered meaning. */
export const INSERTION_STRINGS: Readonly<Record<string, string>> = {
  '%%1536': 'Unknown specific access (bit 0)',
  '%%1537': 'DELETE', '%%1538': 'READ_CONTROL', '%%1539': 'WRITE_DAC', '%%1540': 'WRITE_OWNER',
  '%%1541': 'SYNCHRONIZE', '%%1542': 'ACCESS_SYS_SEC',
  '%%1794': '<never>',
  '%%1832': 'Identification', '%%1833': 'Impersonation', '%%1840': 'Delegation',
  '%%1841': 'Denied by Process Trust Label ACE', '%%1842': 'Yes', '%%1843': 'No', '%%1844': 'System',
  '%%1845': 'Not Available', '%%1846': 'Default', '%%1847': 'DisallowMmConfig', '%%1848': 'Off', '%%1849': 'Auto',
  '%%1936': 'TokenElevationTypeDefault (1)', '%%1937': 'TokenElevationTypeFull (2)', '%%1938': 'TokenElevationTypeLimited (3)',
  '%%2304': 'An Error occured during Logon.', '%%2305': 'The specified user account has expired.',
  '%%2306': 'The NetLogon component is not active.', '%%2307': 'Account locked out.',
  '%%2308': 'The user has not been granted the requested logon type at this machine.',
  '%%2309': "The specified account's password has expired.", '%%2310': 'Account currently disabled.',
  '%%2311': 'Account logon time restriction violation.', '%%2312': 'User not allowed to logon at this computer.',
  '%%2313': 'Unknown user name or bad password.',
  '%%4416': 'ReadData (or ListDirectory)', '%%4417': 'WriteData (or AddFile)',
  '%%4418': 'AppendData (or AddSubdirectory or CreatePipeInstance)', '%%4419': 'ReadEA', '%%4420': 'WriteEA',
  '%%4421': 'Execute/Traverse', '%%4422': 'DeleteChild', '%%4423': 'ReadAttributes', '%%4424': 'WriteAttributes',
  '%%14592': 'Inbound', '%%14593': 'Outbound',
  '%%14608': 'Resource Assignment', '%%14609': 'Listen', '%%14610': 'Receive/Accept', '%%14611': 'Connect',
};

/** Insertion strings that mean "no value". */
const EMPTY_INSERTIONS = new Set(['%%1793', '%%1796', '%%1797']);

function isBlank(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return false;
  }
  return true;
}

/** Resolve a value made only of `%%N` tokens; unknown tokens are dropped; undefined if nothing is left. */
function resolveInsertions(v: string): string | undefined {
  const parts = v.split(/\s+/);
  const out: string[] = [];
  for (const p of parts) {
    if (p === '') continue;
    if (!p.startsWith('%%')) return v; // mixed text: leave it alone
    if (EMPTY_INSERTIONS.has(p)) continue;
    const r = INSERTION_STRINGS[p];
    if (r !== undefined) out.push(r);
  }
  return out.length === 0 ? undefined : out.join(', ');
}

/** A data value as hoptrail keeps it: undefined for `-`, empty, whitespace-only, or unresolvable `%%N`. */
export function clean(v: string | undefined): string | undefined {
  if (v === undefined || v.length === 0) return undefined;
  const c0 = v.charCodeAt(0);
  if (v.length === 1 && c0 === 45 /* - */) return undefined;
  if (c0 === 37 /* % */ && v.length > 2 && v.charCodeAt(1) === 37) return resolveInsertions(v);
  if (c0 === 32 || c0 === 9 || c0 === 10 || c0 === 13) {
    if (isBlank(v)) return undefined;
    if (v.trim() === '-') return undefined;
  }
  return v;
}

/** Like clean() but trims surrounding whitespace (for ECS fields, not for the raw event_data). */
export function cleanTrim(v: string | undefined): string | undefined {
  const c = clean(v);
  if (c === undefined) return undefined;
  const t = c.trim();
  return t.length === 0 || t === '-' ? undefined : t;
}

/** The event data with placeholders removed and known insertion strings resolved; undefined if empty. */
export function cleanEventData(data: Record<string, string>): Record<string, string> | undefined {
  // Mostly nothing to remove or resolve: then the data itself (no copy; nothing writes to either after).
  let kept = 0;
  for (const k in data) {
    const v = data[k];
    if (clean(v) !== v) { kept = -1; break; }
    kept++;
  }
  if (kept >= 0) return kept > 0 ? data : undefined;
  let out: Record<string, string> | undefined;
  for (const k in data) {
    const v = clean(data[k]);
    if (v === undefined) continue;
    setOwn((out ??= {}), k, v);
  }
  return out;
}

/** Decimal or `0x` hex integer text to a number; undefined when it is not one. */
export function toInt(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  if (t.length === 0) return undefined;
  let n: number;
  if (t.length > 2 && t.charCodeAt(0) === 48 && (t.charCodeAt(1) === 120 || t.charCodeAt(1) === 88)) n = parseInt(t.slice(2), 16);
  else {
    for (let i = t.charCodeAt(0) === 45 ? 1 : 0; i < t.length; i++) {
      const c = t.charCodeAt(i);
      if (c < 48 || c > 57) return undefined;
    }
    n = Number(t);
  }
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A port number, or undefined for 0/placeholder/out of range. */
export function toPort(v: string | undefined): number | undefined {
  const n = toInt(v);
  return n !== undefined && n > 0 && n <= 65535 ? n : undefined;
}

/** Logon IDs and other hex handles: lower-case `0x` hex without padding, so every source agrees. */
export function hexId(v: string | undefined): string | undefined {
  const c = cleanTrim(v);
  if (c === undefined) return undefined;
  const n = c.startsWith('0x') || c.startsWith('0X') ? c.slice(2) : c;
  if (!/^[0-9a-fA-F]+$/.test(n)) return c;
  const s = n.replace(/^0+(?=.)/, '').toLowerCase();
  return '0x' + s;
}

/** IP addresses as ECS wants them: no `::ffff:` IPv4 mapping, no placeholders. */
export function ip(v: string | undefined): string | undefined {
  const c = cleanTrim(v);
  if (c === undefined) return undefined;
  if (c.startsWith('::ffff:') && c.indexOf('.') > 0) return c.slice(7);
  return c;
}

/** Last path component of a Windows or device path. */
export function baseName(p: string | undefined): string | undefined {
  if (p === undefined) return undefined;
  const i = Math.max(p.lastIndexOf('\\'), p.lastIndexOf('/'));
  const b = i >= 0 ? p.slice(i + 1) : p;
  return b.length > 0 ? b : undefined;
}

/** `DOMAIN\\name` split in two. */
export function splitAccount(v: string | undefined): { name?: string; domain?: string } | undefined {
  const c = cleanTrim(v);
  if (c === undefined) return undefined;
  const i = c.indexOf('\\');
  if (i < 0) return { name: c };
  const domain = c.slice(0, i);
  const name = c.slice(i + 1);
  const r: { name?: string; domain?: string } = {};
  if (name) r.name = name;
  if (domain) r.domain = domain;
  return r;
}

export const LOGON_TYPES: Readonly<Record<number, string>> = {
  0: 'System', 2: 'Interactive', 3: 'Network', 4: 'Batch', 5: 'Service', 7: 'Unlock', 8: 'NetworkCleartext',
  9: 'NewCredentials', 10: 'RemoteInteractive', 11: 'CachedInteractive', 12: 'CachedRemoteInteractive', 13: 'CachedUnlock',
};

export const LEVELS: Readonly<Record<number, string>> = {
  0: 'information', 1: 'critical', 2: 'error', 3: 'warning', 4: 'information', 5: 'verbose',
};

export const TRANSPORTS: ReadonlyMap<string, string> = new Map([['1', 'icmp'], ['6', 'tcp'], ['17', 'udp'], ['58', 'ipv6-icmp']]);

/** host.name (lower case, as the record names it) and host.hostname (its short name); Normalizer.hostNames adds a learned FQDN. */
export function hostNames(computer: string): { name: string; hostname: string } {
  const name = computer.trim().toLowerCase();
  const dot = name.indexOf('.');
  return { name, hostname: dot > 0 ? name.slice(0, dot) : name };
}

/** Decode the UTF-16LE hex of ProcessingErrorData's EventPayload into text (printable only). */
export function utf16HexToText(hex: string): string | undefined {
  if (hex.length % 4 !== 0) return undefined;
  let s = '';
  for (let i = 0; i < hex.length; i += 4) {
    const code = parseInt(hex.slice(i, i + 2), 16) | (parseInt(hex.slice(i + 2, i + 4), 16) << 8);
    if (code === 0) break;
    if (code < 32 || Number.isNaN(code)) return undefined;
    s += String.fromCharCode(code);
  }
  return s.length > 0 ? s : undefined;
}

const pad2 = (n: number): string => (n < 10 ? '0' : '') + n;

/**
 * Millisecond-precision ISO from epoch millis: `new Date(ms).toISOString()`, written by hand for whole
 * milliseconds in years 0000-9999 (three times cheaper: the stream repairs half of its Export-WinEvents
 * times), by Date otherwise (other years, NaN: its format, its RangeError).
 */
export function isoMillis(ms: number): string {
  if (!(ms >= -62_167_219_200_000 && ms <= 253_402_300_799_999) || !Number.isInteger(ms)) return new Date(ms).toISOString();
  const days = Math.floor(ms / 86_400_000);
  let rem = ms - days * 86_400_000;
  // The civil date of a day number (H. Hinnant's civil_from_days: eras of 400 years from 0000-03-01).
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const h = Math.floor(rem / 3_600_000);
  rem -= h * 3_600_000;
  const mi = Math.floor(rem / 60_000);
  rem -= mi * 60_000;
  const sec = Math.floor(rem / 1000);
  const f = rem - sec * 1000;
  // One string made at once (concatenation made a dozen on the way).
  const c = (n: number, div: number): number => 48 + (Math.floor(n / div) % 10);
  return String.fromCharCode(c(y, 1000), c(y, 100), c(y, 10), c(y, 1), 45, c(m, 10), c(m, 1), 45, c(d, 10), c(d, 1), 84,
    c(h, 10), c(h, 1), 58, c(mi, 10), c(mi, 1), 58, c(sec, 10), c(sec, 1), 46, c(f, 100), c(f, 10), c(f, 1), 90);
}

/**
 * `Date.UTC(y, mo, d, h, mi, s, ms)` for whole numbers with 0 <= y <= 9999 (0-99 read as 1900-1999, as
 * Date.UTC reads them) and the other fields of at most two digits (overflows carry, as there): arithmetic,
 * not the builtin.
 */
function utc(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number {
  if (y <= 99) y += 1900;
  const carry = Math.floor(mo / 12);
  y += carry;
  const m = mo - carry * 12 + 1;
  // H. Hinnant's days_from_civil (the first of the month), then the day of the month and the time.
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5);
  const days = era * 146_097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719_468 + d - 1;
  return days * 86_400_000 + h * 3_600_000 + mi * 60_000 + s * 1000 + ms;
}

/**
 * Fast path: an ISO UTC time with `Z` (any fraction length) to `YYYY-MM-DDTHH:MM:SS.mmmZ` without Date.
 * Returns undefined for anything else.
 */
export function isoUtcToMillisString(t: string): string | undefined {
  const n = t.length;
  if (n < 20 || t.charCodeAt(n - 1) !== 90 /* Z */ || t.charCodeAt(10) !== 84 /* T */ || t.charCodeAt(4) !== 45 || t.charCodeAt(13) !== 58) return undefined;
  if (n === 20) return t.slice(0, 19) + '.000Z';
  if (t.charCodeAt(19) !== 46 /* . */) return undefined;
  const frac = t.slice(20, n - 1);
  if (frac.length === 3) return t;
  return t.slice(0, 20) + (frac + '000').slice(0, 3) + 'Z';
}

/** Days in month m (1-12) of year y (proleptic Gregorian). */
function monthDays(y: number, m: number): number {
  if (m === 2) return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/**
 * Whether t is exactly `YYYY-MM-DDTHH:MM:SS.mmmZ` and a real instant (no 30 February, no hour 25): what
 * the schema's ISO check accepts. The shape alone let a collector's impossible date through to the output.
 */
export function isIsoMillis(t: string): boolean {
  if (t.length !== 24 || t.charCodeAt(23) !== 90 /* Z */ || t.charCodeAt(4) !== 45 || t.charCodeAt(7) !== 45 || t.charCodeAt(10) !== 84 /* T */ ||
    t.charCodeAt(13) !== 58 || t.charCodeAt(16) !== 58 || t.charCodeAt(19) !== 46) return false;
  const y = digits(t, 0, 4), mo = digits(t, 5, 2), d = digits(t, 8, 2), h = digits(t, 11, 2), mi = digits(t, 14, 2), s = digits(t, 17, 2), ms = digits(t, 20, 3);
  return y >= 0 && ms >= 0 && mo >= 1 && mo <= 12 && d >= 1 && d <= monthDays(y, mo) && h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && s >= 0 && s <= 59;
}

/** An ISO UTC time with `Z` as `YYYY-MM-DDTHH:MM:SS.mmmZ`, if it is a real instant; else undefined. */
export function utcMillis(t: string): string | undefined {
  const ms = isoUtcToMillisString(t);
  return ms !== undefined && isIsoMillis(ms) ? ms : undefined;
}

/** Epoch millis of `YYYY-MM-DD[T ]HH:MM:SS[.fff...]` read as UTC (zone suffix ignored); NaN if malformed. */
export function wallToMillis(t: string): number {
  if (t.length < 19) return NaN;
  // Digits where digits belong (nearly always): read them without slicing; same result.
  const y = digits(t, 0, 4), mo = digits(t, 5, 2), d = digits(t, 8, 2), h = digits(t, 11, 2), mi = digits(t, 14, 2), s = digits(t, 17, 2);
  if ((y | mo | d | h | mi | s) >= 0) {
    let ms = 0;
    if (t.charCodeAt(19) === 46) {
      for (let j = 20, scale = 100; j < 23 && j < t.length; j++, scale /= 10) {
        const c = t.charCodeAt(j) - 48;
        if (c < 0 || c > 9) break;
        ms += c * scale;
      }
    }
    return utc(y, mo - 1, d, h, mi, s, ms);
  }
  return wallToMillisSlow(t);
}

/** The decimal number of `n` ASCII digits at `at`, or -1. */
function digits(t: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const c = t.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

function wallToMillisSlow(t: string): number {
  const y = +t.slice(0, 4), mo = +t.slice(5, 7), d = +t.slice(8, 10), h = +t.slice(11, 13), mi = +t.slice(14, 16), s = +t.slice(17, 19);
  let ms = 0;
  if (t.charCodeAt(19) === 46) {
    let j = 20;
    let frac = '';
    while (j < t.length && t.charCodeAt(j) >= 48 && t.charCodeAt(j) <= 57) frac += t[j++];
    ms = frac.length > 0 ? Math.floor(+(frac + '00').slice(0, 3)) : 0;
  }
  const v = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  return Number.isFinite(v) && pad2(mo) === t.slice(5, 7) ? v : NaN;
}

/** Whether a UTF-16 code unit is JavaScript's `\s` (what the regexes hand-written scanners replaced matched). */
export function isWs(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || (c > 127 && (c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff));
}
