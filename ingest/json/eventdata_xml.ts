// The `<EventData>` / `<UserData>` XML string Export-WinEvents ships, flattened the way the EVTX reference
// dumps flatten it: named `<Data>` by name, unnamed ones as param1, param2...; UserData leaves by element
// name (`Parent.Child` when nested), attributes as `Element@attr`, repeats as `_2`, `_3`.

const ENTITY = /&(lt|gt|amp|quot|apos|#x[0-9a-fA-F]+|#\d+);/g;

export function decodeXml(s: string): string {
  if (s.indexOf('&') < 0) return s;
  return s.replace(ENTITY, (_m, e: string) => {
    switch (e) {
      case 'lt': return '<';
      case 'gt': return '>';
      case 'amp': return '&';
      case 'quot': return '"';
      case 'apos': return "'";
      default: return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    }
  });
}

export interface FlatXml {
  data: Record<string, string>;
  kind: 'EventData' | 'UserData' | 'none';
  root?: string;
}

function add(out: Record<string, string>, key: string, v: string): void {
  if (!(key in out)) { out[key] = v; return; }
  for (let i = 2; ; i++) if (!(`${key}_${i}` in out)) { out[`${key}_${i}`] = v; return; }
}

const DATA = /<Data(?:\s+Name\s*=\s*"([^"]*)")?\s*(?:\/>|>([\s\S]*?)<\/Data>)/g;
const TAG = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[\w:.-]+\s*=\s*"[^"]*")*)\s*(\/?)>|([^<]+)/g;
const ATTR = /([\w:.-]+)\s*=\s*"([^"]*)"/g;

export function flattenEventXml(xml: string): FlatXml {
  const t = xml.trim();
  if (t.length === 0) return { data: {}, kind: 'none' };
  if (/^<EventData[\s>/]/.test(t)) {
    const data: Record<string, string> = {};
    let n = 0;
    for (const m of t.matchAll(DATA)) {
      n++;
      add(data, m[1] !== undefined && m[1] !== '' ? m[1] : `param${n}`, decodeXml(m[2] ?? ''));
    }
    const bin = /<Binary>([\s\S]*?)<\/Binary>/.exec(t);
    if (bin) data.Binary = bin[1].trim().toUpperCase();
    return { data, kind: 'EventData' };
  }
  if (/^<UserData[\s>]/.test(t)) {
    const data: Record<string, string> = {};
    const stack: string[] = [];
    let root: string | undefined;
    let text = '';
    for (const m of t.matchAll(TAG)) {
      if (m[5] !== undefined) { text += m[5]; continue; }
      const name = m[2].replace(/^.*:/, '');
      if (m[1] === '/') {
        if (stack.length >= 2 && text.trim() !== '') add(data, stack.slice(2).join('.') || stack[stack.length - 1], decodeXml(text));
        stack.pop();
        text = '';
        continue;
      }
      stack.push(name);
      if (stack.length === 2) root = name;
      if (stack.length >= 3) for (const a of (m[3] ?? '').matchAll(ATTR)) if (a[1] !== 'xmlns' && !a[1].startsWith('xmlns:')) add(data, `${stack.slice(2).join('.')}@${a[1]}`, decodeXml(a[2]));
      text = '';
      if (m[4] === '/') stack.pop();
    }
    return { data, kind: 'UserData', root };
  }
  return { data: {}, kind: 'none' };
}
