// The `<EventData>` / `<UserData>` XML string Export-WinEvents ships, flattened the way the EVTX reference
// dumps flatten it: named `<Data>` by name, unnamed ones as param1, param2...; UserData leaves by element
// name (`Parent.Child` when nested), attributes as `Element@attr`, repeats as `_2`, `_3`.
import { isWs } from '../normalize/values.js';
import { addNumbered } from '../own.js';


/** The end of the entity `&...;` starting at `amp` (the index after its `;`), or -1 if it is not one. */
function entityEnd(s: string, amp: number): number {
  const i = amp + 1;
  const c = s.charCodeAt(i);
  if (c === 35 /* # */) {
    let j = i + 1;
    if (s.charCodeAt(j) === 120 /* x */) {
      j++;
      const from = j;
      for (let d = s.charCodeAt(j); (d >= 48 && d <= 57) || (d >= 65 && d <= 70) || (d >= 97 && d <= 102); d = s.charCodeAt(++j));
      if (j > from && s.charCodeAt(j) === 59) return j + 1;
      // `&#x` + digits is not `#\d+` either (an x is not a digit).
      return -1;
    }
    const from = j;
    for (let d = s.charCodeAt(j); d >= 48 && d <= 57; d = s.charCodeAt(++j));
    return j > from && s.charCodeAt(j) === 59 ? j + 1 : -1;
  }
  const name = c === 108 ? 'lt;' : c === 103 ? 'gt;' : c === 97 ? (s.charCodeAt(i + 1) === 109 ? 'amp;' : 'apos;') : c === 113 ? 'quot;' : undefined;
  return name !== undefined && s.startsWith(name, i) ? i + name.length : -1;
}

function entityText(e: string): string {
  switch (e) {
    case '&lt;': return '<';
    case '&gt;': return '>';
    case '&amp;': return '&';
    case '&quot;': return '"';
    case '&apos;': return "'";
    default: return String.fromCodePoint(e.charCodeAt(2) === 120 ? parseInt(e.slice(3, -1), 16) : parseInt(e.slice(2, -1), 10));
  }
}

/** XML's five named entities and numeric character references decoded (anything else left as is). */
export function decodeXml(s: string): string {
  let amp = s.indexOf('&');
  if (amp < 0) return s;
  let out = '';
  let from = 0;
  while (amp >= 0) {
    const end = entityEnd(s, amp);
    if (end < 0) { amp = s.indexOf('&', amp + 1); continue; }
    out += s.slice(from, amp) + entityText(s.slice(amp, end));
    from = end;
    amp = s.indexOf('&', end);
  }
  return from === 0 ? s : out + s.slice(from);
}

export interface FlatXml {
  data: Record<string, string>;
  kind: 'EventData' | 'UserData' | 'none';
  root?: string;
}

const TAG = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[\w:.-]+\s*=\s*"[^"]*")*)\s*(\/?)>|([^<]+)/g;
const ATTR = /([\w:.-]+)\s*=\s*"([^"]*)"/g;

/**
 * The end of `\s*(?:\/>|>([\s\S]*?)<\/Data>)` at `p`: [end, valueStart, valueEnd] in `at` (value -1 when
 * self-closed); false when it does not match there.
 */
function dataTail(t: string, p: number, at: number[]): boolean {
  while (isWs(t.charCodeAt(p))) p++;
  const c = t.charCodeAt(p);
  if (c === 47 /* / */) {
    if (t.charCodeAt(p + 1) !== 62) return false;
    at[0] = p + 2; at[1] = -1; at[2] = -1;
    return true;
  }
  if (c !== 62 /* > */) return false;
  const e = t.indexOf('</Data>', p + 1);
  if (e < 0) return false;
  at[0] = e + 7; at[1] = p + 1; at[2] = e;
  return true;
}

/**
 * `<Data Name="N">value</Data>` and `<Data>value</Data>` (param1, param2... by position among all Data),
 * `<Data/>`; then the first `<Binary>`. One pass with indexOf: what the regex
 * `/<Data(?:\s+Name\s*=\s*"([^"]*)")?\s*(?:\/>|>([\s\S]*?)<\/Data>)/g` matched, match for match.
 */
function eventData(t: string, only?: string): Record<string, string> {
  const data: Record<string, string> = {};
  const at = [0, 0, 0];
  let n = 0;
  let i = t.indexOf('<Data');
  while (i >= 0) {
    const j = i + 5;
    let name: string | undefined;
    let ok = false;
    // The optional ` Name="..."`: when it matches, the tail must follow it (without it, the tail would
    // meet the N of Name and fail as well).
    let a = j;
    while (isWs(t.charCodeAt(a))) a++;
    if (a > j && t.startsWith('Name', a)) {
      let b = a + 4;
      while (isWs(t.charCodeAt(b))) b++;
      if (t.charCodeAt(b) === 61 /* = */) {
        b++;
        while (isWs(t.charCodeAt(b))) b++;
        if (t.charCodeAt(b) === 34 /* " */) {
          const q = t.indexOf('"', b + 1);
          if (q >= 0) {
            name = t.slice(b + 1, q);
            ok = dataTail(t, q + 1, at);
          }
        }
      }
    }
    if (name === undefined) ok = dataTail(t, j, at);
    if (!ok) { i = t.indexOf('<Data', i + 1); continue; }
    n++;
    if (only !== undefined) {
      // The first Data of that name is the key's value (a later one is `${name}_2`; unnamed ones are param*).
      if (name === only) { data[only] = at[1] < 0 ? '' : decodeXml(t.slice(at[1], at[2])); return data; }
      i = t.indexOf('<Data', at[0]);
      continue;
    }
    addNumbered(data, name !== undefined && name !== '' ? name : `param${n}`, at[1] < 0 ? '' : decodeXml(t.slice(at[1], at[2])));
    i = t.indexOf('<Data', at[0]);
  }
  const b = t.indexOf('<Binary>');
  if (b >= 0) {
    const e = t.indexOf('</Binary>', b + 8);
    if (e >= 0) data.Binary = t.slice(b + 8, e).trim().toUpperCase();
  }
  return data;
}

function isEventData(t: string): boolean {
  return t.startsWith('<EventData') && t.length > 10 && (isWs(t.charCodeAt(10)) || t.charCodeAt(10) === 62 || t.charCodeAt(10) === 47);
}

/**
 * `flattenEventXml(xml).data[key]` without the rest, when `key` is a name no key of `<UserData>` or
 * `param*` naming can take (`UtcTime`): the first `<Data Name="key">`'s value, or undefined.
 */
export function eventDataValue(xml: string, key: string): string | undefined {
  const t = xml.trim();
  if (!isEventData(t)) return t.length === 0 || !/^<UserData[\s>]/.test(t) ? undefined : flattenEventXml(t).data[key];
  const d = eventData(t, key);
  return d[key];
}

export function flattenEventXml(xml: string): FlatXml {
  const t = xml.trim();
  if (t.length === 0) return { data: {}, kind: 'none' };
  if (isEventData(t)) return { data: eventData(t), kind: 'EventData' };
  if (/^<UserData[\s>]/.test(t)) {
    const data: Record<string, string> = {};
    const stack: string[] = [];
    let root: string | undefined;
    let text = '';
    for (const m of t.matchAll(TAG)) {
      if (m[5] !== undefined) { text += m[5]; continue; }
      const name = m[2].replace(/^.*:/, '');
      if (m[1] === '/') {
        if (stack.length >= 2 && text.trim() !== '') addNumbered(data, stack.slice(2).join('.') || stack[stack.length - 1], decodeXml(text));
        stack.pop();
        text = '';
        continue;
      }
      stack.push(name);
      if (stack.length === 2) root = name;
      if (stack.length >= 3) for (const a of (m[3] ?? '').matchAll(ATTR)) if (a[1] !== 'xmlns' && !a[1].startsWith('xmlns:')) addNumbered(data, `${stack.slice(2).join('.')}@${a[1]}`, decodeXml(a[2]));
      text = '';
      if (m[4] === '/') stack.pop();
    }
    return { data, kind: 'UserData', root };
  }
  return { data: {}, kind: 'none' };
}
