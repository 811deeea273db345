// Walks a parsed BinXML tree with its substitution values bound: element children (through template
// instances and BinXML-typed values), element text, attribute values. Shared by the record flattener and
// the XML renderer so both see the same document.

import { ChunkContext, parseFragment, type Val, type XAttr, type XElem, type XNode } from './binxml.js';
import { arrayItems, scalar, VT_ARRAY, VT_BINXML, VT_EVTXML, VT_NULL } from './values.js';

/** A nested BinXML value, parsed. */
export interface NestedXml { xml: XNode[] }
export type Resolved = string | string[] | NestedXml;

export class Scope {
  private cache: (Resolved | null | undefined)[] | undefined;
  constructor(readonly ctx: ChunkContext, readonly vals: Val[]) {}

  /** The value of substitution `i`, or null when it is absent or of the null type. */
  value(i: number): Resolved | null {
    const cache = this.cache ?? (this.cache = new Array(this.vals.length));
    const c = cache[i];
    if (c !== undefined) return c;
    const r = this.decode(i);
    cache[i] = r;
    return r;
  }

  private decode(i: number): Resolved | null {
    const v = this.vals[i];
    if (v === undefined || v.vt === VT_NULL) return null;
    const b = this.ctx.b;
    if (v.vt === VT_BINXML || v.vt === VT_EVTXML) {
      if (v.size === 0) return null;
      return { xml: parseFragment(this.ctx, v.off, v.off + v.size, false) };
    }
    if (v.vt & VT_ARRAY) return arrayItems(b, v.vt, v.off, v.size);
    return scalar(b, v.vt, v.off, v.size);
  }

  /** True when substitution `i` is an array value (an element holding it repeats once per item). */
  isArray(i: number): boolean {
    const v = this.vals[i];
    return v !== undefined && (v.vt & VT_ARRAY) !== 0;
  }
}

/** Upper bound on elements rendered for one record (real records have tens to a few thousand). */
export const MAX_RECORD_WORK = 200_000;

export class ExpansionError extends Error {}

export type ElementVisitor = (el: XElem, scope: Scope, pickSub: number, pickItem: number) => void;

/**
 * Calls `visit` for each child element of `kids`, looking through template instances and BinXML values.
 * An element whose content is an array substitution is visited once per item (`pickSub`/`pickItem`), as
 * Windows renders classic events' string arrays as repeated `<Data>` elements.
 */
export function eachElement(kids: XNode[], scope: Scope, visit: ElementVisitor): void {
  for (let k = 0; k < kids.length; k++) {
    const n = kids[k];
    if (n.t === 2) {
      if (++scope.ctx.work > MAX_RECORD_WORK) throw new ExpansionError(`record expands to more than ${MAX_RECORD_WORK} elements`);
      if (absentOptional(n, scope)) continue;
      const arr = arraySub(n, scope);
      if (arr < 0) visit(n, scope, -1, -1);
      else {
        const items = scope.value(arr) as string[];
        // An empty array still renders its element once, empty.
        if (items.length === 0) visit(n, scope, arr, -1);
        for (let i = 0; i < items.length; i++) visit(n, scope, arr, i);
      }
    } else if (n.t === 3) {
      // One scope per instance, so its decoded values are shared by every visit.
      const sc = (n.scope as Scope | undefined) ?? (n.scope = new Scope(scope.ctx, n.vals));
      eachElement(n.tpl, sc, visit);
    } else if (n.t === 1) {
      const r = scope.value(n.i);
      if (r !== null && typeof r === 'object' && !Array.isArray(r)) eachElement(r.xml, scope, visit);
    }
  }
}

/** An element made only of an optional substitution whose value is absent is not rendered at all. */
function absentOptional(el: XElem, scope: Scope): boolean {
  if (el.kids.length !== 1 || el.attrs.length !== 0) return false;
  const n = el.kids[0];
  return n.t === 1 && n.opt && scope.value(n.i) === null;
}

function arraySub(el: XElem, scope: Scope): number {
  const kids = el.kids;
  for (let k = 0; k < kids.length; k++) {
    const n = kids[k];
    if (n.t === 1 && scope.isArray(n.i)) return n.i;
  }
  return -1;
}

/** True when the element has child elements (after resolving substitutions). */
export function hasElements(el: XElem, scope: Scope): boolean {
  for (const n of el.kids) {
    if (n.t === 2 || n.t === 3) return true;
    if (n.t === 1) {
      const r = scope.value(n.i);
      if (r !== null && typeof r === 'object' && !Array.isArray(r)) return true;
    }
  }
  return false;
}

/** The element's text content (its own text nodes and scalar values; child elements are not included). */
export function textOf(el: XElem, scope: Scope, pickSub: number, pickItem: number): string {
  const kids = el.kids;
  if (kids.length === 1) {
    const n = kids[0];
    if (n.t === 1) return subText(scope, n.i, pickSub, pickItem);
    if (n.t === 0) return n.v;
  }
  let s = '';
  for (let k = 0; k < kids.length; k++) {
    const n = kids[k];
    if (n.t === 0) s += n.v;
    else if (n.t === 1) s += subText(scope, n.i, pickSub, pickItem);
  }
  return s;
}

function subText(scope: Scope, i: number, pickSub: number, pickItem: number): string {
  const r = scope.value(i);
  if (r === null) return '';
  if (typeof r === 'string') return r;
  if (Array.isArray(r)) return i === pickSub ? (r[pickItem] ?? '') : r.join(', ');
  return '';
}

/** An attribute's value, or null when it is made only of absent substitutions (Windows omits it then). */
export function attrValue(a: XAttr, scope: Scope): string | null {
  const parts = a.parts;
  if (parts.length === 1) {
    const n = parts[0];
    if (n.t === 0) return n.v;
    if (n.t === 1) {
      const r = scope.value(n.i);
      if (r === null) return null;
      if (typeof r === 'string') return r;
      if (Array.isArray(r)) return r.join(', ');
      return null;
    }
    return null;
  }
  let s = '';
  let any = parts.length === 0;
  for (const n of parts) {
    if (n.t === 0) {
      s += n.v;
      any = true;
    } else if (n.t === 1) {
      const r = scope.value(n.i);
      if (r === null) continue;
      any = true;
      if (typeof r === 'string') s += r;
      else if (Array.isArray(r)) s += r.join(', ');
    }
  }
  return any ? s : null;
}
