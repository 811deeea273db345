// A record's bound BinXML tree rendered as XML text, on demand (`hoptrail dump --format xml`).

import type { XElem, XNode } from './binxml.js';
import { attrValue, eachElement, Scope, textOf } from './resolve.js';

const ESC = /[&<>"]/g;
const ESC_MAP: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };
// XML 1.0 cannot carry most control characters even escaped; show them as \uXXXX text.
const CTRL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g; // eslint-disable-line no-control-regex

export function escapeXml(s: string): string {
  return s.replace(ESC, (c) => ESC_MAP[c]).replace(CTRL, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

// Names of ASCII letters, digits and _ . - (and one ':' between a prefix and a local name): XML 1.0 takes
// more, but its 4th and 5th editions differ on which letters (expat refuses U+3994, a 5th-edition letter),
// namespaces allow one colon, and Windows' own names are ASCII.
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*(?::[A-Za-z_][A-Za-z0-9_.-]*)?$/;
const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_.-]/;

/**
 * An element or attribute name as XML can carry it. A damaged record's names can be garbage (NUL, '<',
 * spaces): each character outside the set above is written `_xHHHH_`, as .NET's XmlConvert.EncodeName
 * writes what a name may not hold, so that the record stays well-formed and the name readable.
 */
export function xmlName(name: string): string {
  if (NAME.test(name)) return name;
  let out = '';
  for (const ch of name) {
    const ok = out === '' ? NAME_START.test(ch) : NAME_CHAR.test(ch);
    out += ok ? ch : `_x${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}_`;
  }
  return out === '' ? '_' : out;
}

export function renderXml(nodes: XNode[], scope: Scope): string {
  const out: string[] = [];
  eachElement(nodes, scope, (el, s, pickSub, pickItem) => element(el, s, pickSub, pickItem, '', out));
  return out.join('');
}

function element(el: XElem, scope: Scope, pickSub: number, pickItem: number, indent: string, out: string[]): void {
  const name = xmlName(el.name);
  out.push(indent, '<', name);
  for (const a of el.attrs) {
    const v = attrValue(a, scope);
    if (v !== null) out.push(' ', xmlName(a.name), '="', escapeXml(v), '"');
  }
  const children: string[] = [];
  eachElement(el.kids, scope, (c, s, ps, pi) => element(c, s, ps, pi, indent + '  ', children));
  const text = textOf(el, scope, pickSub, pickItem);
  // A processing instruction's data is not unescaped by readers: only what would end or break it is changed.
  for (const n of el.kids) if (n.t === 4) children.push(`${indent}  <?${xmlName(n.target)} ${n.data.replaceAll('?>', '? >').replace(CTRL, '\uFFFD')}?>\n`);
  if (children.length === 0 && text === '') {
    out.push('/>\n');
    return;
  }
  out.push('>');
  if (children.length > 0) {
    out.push('\n');
    if (text !== '') out.push(indent, '  ', escapeXml(text), '\n');
    out.push(...children, indent);
  } else {
    out.push(escapeXml(text));
  }
  out.push('</', name, '>\n');
}
