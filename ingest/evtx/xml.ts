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

export function renderXml(nodes: XNode[], scope: Scope): string {
  const out: string[] = [];
  eachElement(nodes, scope, (el, s, pickSub, pickItem) => element(el, s, pickSub, pickItem, '', out));
  return out.join('');
}

function element(el: XElem, scope: Scope, pickSub: number, pickItem: number, indent: string, out: string[]): void {
  out.push(indent, '<', el.name);
  for (const a of el.attrs) {
    const v = attrValue(a, scope);
    if (v !== null) out.push(' ', a.name, '="', escapeXml(v), '"');
  }
  const children: string[] = [];
  eachElement(el.kids, scope, (c, s, ps, pi) => element(c, s, ps, pi, indent + '  ', children));
  const text = textOf(el, scope, pickSub, pickItem);
  for (const n of el.kids) if (n.t === 4) children.push(`${indent}  <?${n.target} ${n.data}?>\n`);
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
  out.push('</', el.name, '>\n');
}
