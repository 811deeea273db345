// Parsers for the text blocks PowerShell logs instead of structured data: the classic "Windows PowerShell"
// `Key=Value` context (400/403/600/800 parameters or message text), 4103's `Key = Value` ContextInfo, and
// the `CommandInvocation(...)` / `ParameterBinding(...)` detail lines of 800 and 4103.
import { isWs } from './values.js';

const CRLF = /\r\n/g;

/** `\r\n` to `\n`, so EVTX parameters and rendered message text give equal values. */
export function lf(s: string): string {
  return s.indexOf('\r') >= 0 ? s.replace(CRLF, '\n') : s;
}

/** What `/^\s*([A-Za-z]+)=(.*)$/` (no flags) gives for one line: [key, value], or undefined. */
export function classicLine(line: string): [string, string] | undefined {
  // Bounded by the length: charCodeAt past the end (NaN) made optimized code deoptimize ("out of bounds").
  const n = line.length;
  let i = 0;
  while (i < n && isWs(line.charCodeAt(i))) i++;
  const from = i;
  while (i < n && ((line.charCodeAt(i) | 32) >= 97 && (line.charCodeAt(i) | 32) <= 122)) i++;
  if (i === from || i >= n || line.charCodeAt(i) !== 61 /* = */) return undefined;
  // `.` stops at line terminators, and `$` is the end of the string.
  for (let j = i + 1; j < line.length; j++) {
    const c = line.charCodeAt(j);
    if (c === 10 || c === 13 || c === 0x2028 || c === 0x2029) return undefined;
  }
  return [line.slice(from, i), line.slice(i + 1)];
}

/**
 * Parse the classic `\tKey=Value` lines. `CommandLine` is always the last key of the context block and may
 * span lines, so it takes the rest of the block (up to a `Details:` section or the end).
 */
export function parseClassicContext(text: string): Record<string, string> {
  const t = lf(text);
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < t.length) {
    let end = t.indexOf('\n', pos);
    if (end < 0) end = t.length;
    const line = t.slice(pos, end);
    const m = classicLine(line);
    if (m) {
      const key = m[0];
      if (key === 'CommandLine') {
        let rest = t.slice(pos + line.indexOf('=') + 1);
        const det = rest.search(/\n\s*\n\s*Details:/);
        if (det >= 0) rest = rest.slice(0, det);
        out[key] = rest.trimEnd();
        break;
      }
      out[key] = m[1].trimEnd();
    }
    pos = end + 1;
  }
  return out;
}

/** Parse 4103/4100 ContextInfo: `        Host Name = ServerRemoteHost` lines, keys as written. */
export function parseContextInfo(text: string): Record<string, string> {
  const t = lf(text);
  const out: Record<string, string> = {};
  for (const line of t.split('\n')) {
    const i = line.indexOf(' = ');
    if (i < 0) continue;
    const key = line.slice(0, i).trim();
    if (key.length === 0 || key.length > 40) continue;
    out[key] = line.slice(i + 3).trimEnd();
  }
  return out;
}

export interface InvocationDetail {
  type: string;
  related_command?: string;
  name?: string;
  value: string;
}

/** `CommandInvocation(X): "X"` and `ParameterBinding(X): name="n"; value="v"` lines. */
export function parseInvocationDetails(text: string): InvocationDetail[] | undefined {
  const t = lf(text);
  const out: InvocationDetail[] = [];
  for (const line of t.split('\n')) {
    const m = /^\s*(\w+)\(([^)]*)\):\s?(.*)$/.exec(line);
    if (!m) continue;
    const d: InvocationDetail = { type: m[1], value: '' };
    if (m[2]) d.related_command = m[2];
    const rest = m[3];
    const pb = /^name="(.*?)"; value="(.*)"\s*$/.exec(rest);
    if (pb) {
      d.name = pb[1];
      d.value = pb[2];
    } else {
      d.value = rest.replace(/^"(.*)"\s*$/, '$1');
    }
    out.push(d);
  }
  return out.length > 0 ? out : undefined;
}

/** The `Details:` section of a rendered 800 message (after the context block). */
export function messageDetails(message: string): string | undefined {
  const t = lf(message);
  const i = t.search(/\n\s*Details:\s*\n/);
  if (i < 0) return undefined;
  const start = t.indexOf('Details:', i);
  return t.slice(t.indexOf('\n', start) + 1);
}
