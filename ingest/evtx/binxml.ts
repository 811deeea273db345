// Binary XML token stream -> a small node tree. Templates are parsed once per chunk and cached by their
// chunk offset; a record becomes a template instance: the cached tree plus the positions of its values,
// which are decoded only when rendered. All offsets are relative to the chunk buffer `b`.

import { conventionalText, scalar, u16, u32, utf16, VT_ANSI, VT_STRING } from './values.js';

export interface XText { t: 0; v: string }
export interface XSub { t: 1; i: number; vt: number; opt: boolean }
export interface XElem { t: 2; name: string; attrs: XAttr[]; kids: XNode[] }
export interface XInst { t: 3; tpl: XNode[]; vals: Val[]; scope?: unknown }
export interface XPI { t: 4; target: string; data: string }
export type XNode = XText | XSub | XElem | XInst | XPI;
export interface XAttr { name: string; parts: XNode[] }

/** A substitution value's type and position; decoded on demand. */
export interface Val { vt: number; off: number; size: number }

export class BinXmlError extends Error {
  constructor(message: string, readonly offset: number) {
    // Thrown at every fragment candidate that does not parse when slack is carved (thousands in a small
    // log's empty chunk): a stack trace, never read, cost more than the parse itself.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
  }
}

/**
 * The descriptor arrays, shared by the contexts of a thread: they hold values only while one record is
 * read (synchronously), and a chunk need not allocate its own.
 */
const flat = { vt: new Int32Array(1024), voff: new Int32Array(1024), vsize: new Int32Array(1024) };

/** Per-chunk caches shared by every record of the chunk. */
export class ChunkContext {
  readonly names = new Map<number, string>();
  readonly templates = new Map<number, XNode[] | null>();
  depth = 0;
  /** Elements visited while rendering the current record: hostile nesting cannot make it explode. */
  work = 0;
  /**
   * Carving remnants from slack space: names are stored inline as hash, count, characters, NUL (the form
   * of forwarded events' BinXML buffers), and parsing stops where the root element ends (`carveEnd`).
   */
  carving = false;
  carveEnd = 0;
  /**
   * Flat substitution descriptors (type, chunk offset, size) of the instances the compiled replay works on:
   * no object per value. readInstanceFlat appends at `nvals`; readTemplateInstance uses the room above.
   */
  vt = flat.vt;
  voff = flat.voff;
  vsize = flat.vsize;
  nvals = 0;
  /** Set by readInstanceFlat: where the instance's values end. */
  instEnd = 0;
  constructor(readonly b: Buffer, readonly end: number) {}

  /** Room for descriptors up to index n (exclusive). */
  reserve(n: number): void {
    if (n <= this.vt.length) return;
    let cap = this.vt.length * 2;
    while (cap < n) cap *= 2;
    const grow = (a: Int32Array) => {
      const g = new Int32Array(cap);
      g.set(a);
      return g;
    };
    this.vt = flat.vt = grow(this.vt);
    this.voff = flat.voff = grow(this.voff);
    this.vsize = flat.vsize = grow(this.vsize);
  }
}

const MAX_DEPTH = 24;
const MAX_ELEMENT_NESTING = 256;

/** XML's predefined entities; a Map, as the name comes from the log (`&constructor;` is not one). */
const ENTITIES: ReadonlyMap<string, string> = new Map([['amp', '&'], ['lt', '<'], ['gt', '>'], ['quot', '"'], ['apos', "'"]]);

function fail(msg: string, off: number): never {
  throw new BinXmlError(msg, off);
}

/**
 * Where the last readName, readLenString or readTemplateInstance ended. A second result in a variable, not
 * an array: array destructuring at each call site made parseTokens several times costlier to optimize.
 */
let after = 0;

/** Reads the name referenced at `p` (a u32 chunk offset); the position after the reference goes to `after`. */
function readName(ctx: ChunkContext, p: number, limit: number): string {
  const b = ctx.b;
  if (ctx.carving) {
    if (p + 4 > limit) fail('inline name runs past the data', p);
    const n = u16(b, p + 2);
    if (p + 6 + 2 * n > limit) fail('inline name runs past the data', p);
    after = p + 6 + 2 * n;
    return utf16(b, p + 4, 2 * n);
  }
  if (p + 4 > limit) fail('name offset runs past the data', p);
  const off = u32(b, p);
  const rec = recording;
  p += 4;
  let name = ctx.names.get(off);
  if (name === undefined) {
    if (off + 8 > ctx.end) fail(`name offset 0x${off.toString(16)} is outside the chunk`, p - 4);
    const n = u16(b, off + 6);
    const strEnd = off + 8 + 2 * n;
    if (strEnd > ctx.end) fail(`name at 0x${off.toString(16)} runs past the chunk`, off);
    name = utf16(b, off + 8, 2 * n);
    ctx.names.set(off, name);
  }
  if (rec !== null) {
    rec.rel.push(p - 4 - rec.base);
    rec.inline.push(off === p);
    rec.names.push(name);
  }
  if (off === p) {
    // The name is stored inline right here: skip it (header 8 bytes, chars, NUL).
    p += 8 + 2 * u16(b, off + 6) + 2;
    if (p > limit) fail('inline name runs past the data', off);
  }
  after = p;
  return name;
}

/** A length-prefixed UTF-16 string at `p`; the position after it goes to `after`. */
function readLenString(b: Buffer, p: number, limit: number): string {
  if (p + 2 > limit) fail('string length runs past the data', p);
  const n = u16(b, p);
  const e = p + 2 + 2 * n;
  if (e > limit) fail('string runs past the data', p);
  after = e;
  return utf16(b, p + 2, 2 * n);
}

/** Fixed sizes of the value types a Value token may carry inline (other than length-prefixed strings). */
const INLINE_VALUE_SIZE: Record<number, number> = {
  0x03: 1, 0x04: 1, 0x05: 2, 0x06: 2, 0x07: 4, 0x08: 4, 0x09: 8, 0x0a: 8, 0x0b: 4, 0x0c: 8, 0x0d: 4,
  0x0f: 16, 0x11: 8, 0x12: 16, 0x14: 4, 0x15: 8,
};

/**
 * Parses a BinXML fragment in [p, limit) into nodes. `inTemplate`: element headers carry a dependency
 * identifier only inside template definitions; "literal" BinXML (records written by Windows Event
 * Forwarding, nested BinXML values without a template) omits it.
 */
export function parseFragment(ctx: ChunkContext, p: number, limit: number, inTemplate: boolean): XNode[] {
  if (++ctx.depth > MAX_DEPTH) {
    ctx.depth--;
    fail('BinXML nests too deeply (template or value cycle?)', p);
  }
  try {
    // The common shape of a record or a BinXML value: fragment header, one template instance, end.
    if (!inTemplate && !ctx.carving && p + 5 <= limit && ctx.b[p] === 0x0f && ctx.b[p + 4] === 0x0c) {
      const inst = readTemplateInstance(ctx, p + 5, Math.min(limit, ctx.end));
      if (after < limit && ctx.b[after] === 0x00) return [inst];
    }
    return parseTokens(ctx, p, limit, inTemplate);
  } finally {
    ctx.depth--;
  }
}

/**
 * The common shape of a record or a BinXML value (fragment header, one template instance, end) read into
 * flat descriptors appended at ctx.nvals: its template, or null (nothing appended) for any other shape.
 * Checks and errors are parseFragment's.
 */
export function flatInstance(ctx: ChunkContext, p: number, limit: number): XNode[] | null {
  const b = ctx.b;
  if (ctx.carving || p + 5 > limit || b[p] !== 0x0f || b[p + 4] !== 0x0c) return null;
  if (++ctx.depth > MAX_DEPTH) {
    ctx.depth--;
    fail('BinXML nests too deeply (template or value cycle?)', p);
  }
  const base = ctx.nvals;
  try {
    const tpl = readInstanceFlat(ctx, p + 5, Math.min(limit, ctx.end), base);
    const end = ctx.instEnd;
    if (end < limit && b[end] === 0x00) return tpl;
    ctx.nvals = base;
    return null;
  } finally {
    ctx.depth--;
  }
}

function parseTokens(ctx: ChunkContext, p: number, limit: number, inTemplate: boolean): XNode[] {
  const b = ctx.b;
  if (limit > ctx.end) limit = ctx.end;
  const root: XNode[] = [];
  const stack: XElem[] = [];
  let attr: XAttr | null = null;
  let piTarget: string | null = null;

  const add = (n: XNode) => {
    if (attr !== null) attr.parts.push(n);
    else if (stack.length > 0) stack[stack.length - 1].kids.push(n);
    else root.push(n);
  };

  while (p < limit) {
    const tokPos = p;
    const tok = b[p++];
    switch (tok & 0xbf) {
      case 0x00: // end of fragment
        return root;
      case 0x0f: // fragment header: major, minor, flags
        p += 3;
        break;
      case 0x01: {
        // open start element
        if (inTemplate) p += 2; // dependency identifier
        p += 4; // data size
        const name = readName(ctx, p, limit);
        p = after;
        if (tok & 0x40) p += 4; // attribute list size
        if (p > limit) fail('element header runs past the data', tokPos);
        if (stack.length >= MAX_ELEMENT_NESTING) fail('elements nest too deeply', tokPos);
        const el: XElem = { t: 2, name, attrs: [], kids: [] };
        attr = null;
        add(el);
        stack.push(el);
        break;
      }
      case 0x02: // close start element
        attr = null;
        break;
      case 0x03: // close empty element
      case 0x04: // end element
        attr = null;
        if (stack.length === 0) fail('end of an element that is not open', tokPos);
        stack.pop();
        if (ctx.carving && stack.length === 0) {
          ctx.carveEnd = p;
          return root;
        }
        break;
      case 0x05: {
        // value
        if (p >= limit) fail('value runs past the data', tokPos);
        const vt = b[p++];
        let v: string;
        if (vt === VT_STRING) {
          v = conventionalText(readLenString(b, p, limit));
          p = after;
        } else if (vt === VT_ANSI) {
          if (p + 2 > limit) fail('value runs past the data', tokPos);
          const n = u16(b, p);
          if (p + 2 + n > limit) fail('value runs past the data', tokPos);
          v = b.toString('latin1', p + 2, p + 2 + n);
          p += 2 + n;
        } else {
          const size = INLINE_VALUE_SIZE[vt];
          if (size === undefined) fail(`value token of unsupported type 0x${vt.toString(16)}`, tokPos);
          if (p + size > limit) fail('value runs past the data', tokPos);
          v = scalar(b, vt, p, size);
          p += size;
        }
        add({ t: 0, v });
        break;
      }
      case 0x06: {
        // attribute
        if (stack.length === 0) fail('attribute outside an element', tokPos);
        const name = readName(ctx, p, limit);
        p = after;
        attr = { name, parts: [] };
        stack[stack.length - 1].attrs.push(attr);
        break;
      }
      case 0x07: {
        // CDATA section
        const v = readLenString(b, p, limit);
        p = after;
        add({ t: 0, v });
        break;
      }
      case 0x08: {
        // character reference
        if (p + 2 > limit) fail('character reference runs past the data', tokPos);
        add({ t: 0, v: String.fromCharCode(u16(b, p)) });
        p += 2;
        break;
      }
      case 0x09: {
        // entity reference
        const name = readName(ctx, p, limit);
        p = after;
        add({ t: 0, v: ENTITIES.get(name) ?? `&${name};` });
        break;
      }
      case 0x0a: {
        // processing instruction target
        piTarget = readName(ctx, p, limit);
        p = after;
        break;
      }
      case 0x0b: {
        // processing instruction data
        const data = readLenString(b, p, limit);
        p = after;
        add({ t: 4, target: piTarget ?? '', data });
        piTarget = null;
        break;
      }
      case 0x0c: {
        // A template holding an instance refers to another template by offset: not shared across chunks.
        if (recording !== null) recording.ok = false;
        const inst = readTemplateInstance(ctx, p, limit);
        p = after;
        add(inst);
        break;
      }
      case 0x0d:
      case 0x0e: {
        // normal / optional substitution
        if (!inTemplate) fail('substitution outside a template', tokPos);
        if (p + 3 > limit) fail('substitution runs past the data', tokPos);
        add({ t: 1, i: u16(b, p), vt: b[p + 2], opt: tok === 0x0e });
        p += 3;
        break;
      }
      default:
        fail(`unknown BinXML token 0x${tok.toString(16)}`, tokPos);
    }
  }
  if (p > limit) fail('BinXML runs past the data', limit);
  // A fragment that ends without an EOF token is accepted as long as it is complete.
  if (stack.length > 0) fail('BinXML ends inside an open element', limit);
  return root;
}

/** A template instance at `p` as a tree node; the position after it goes to `after`. */
function readTemplateInstance(ctx: ChunkContext, p: number, limit: number): XInst {
  // Descriptors go to scratch room above the ones in use, then become Val objects for the tree.
  const base = ctx.nvals;
  const tpl = readInstanceFlat(ctx, p, limit, base);
  const count = ctx.nvals - base;
  ctx.nvals = base;
  const vals: Val[] = new Array(count);
  for (let i = 0; i < count; i++) vals[i] = { vt: ctx.vt[base + i], off: ctx.voff[base + i], size: ctx.vsize[base + i] };
  after = ctx.instEnd;
  return { t: 3, tpl, vals };
}

/**
 * Reads the template instance whose header starts at `p` (after its token): returns its template, stores
 * its value descriptors at flat index `base` on, sets ctx.nvals past them and ctx.instEnd after the values.
 */
export function readInstanceFlat(ctx: ChunkContext, p: number, limit: number, base: number): XNode[] {
  const b = ctx.b;
  const start = p - 1;
  if (p + 9 > limit) fail('template instance runs past the data', start);
  const defOff = u32(b, p + 5);
  p += 9;
  if (defOff === p) {
    // The definition is stored inline here: skip it (it is parsed from the cache lookup below).
    if (p + 24 > limit) fail('template definition runs past the data', p);
    const size = u32(b, p + 20);
    p += 24 + size;
    if (p > limit) fail('template definition runs past the data', defOff);
  }
  const tpl = templateAt(ctx, defOff, start);
  if (p + 4 > limit) fail('substitution count runs past the data', p);
  const count = u32(b, p);
  p += 4;
  if (p + 4 * count > limit) fail(`substitution count ${count} runs past the data`, p - 4);
  ctx.reserve(base + count);
  const vt = ctx.vt, voff = ctx.voff, vsize = ctx.vsize;
  let vp = p + 4 * count;
  for (let i = 0; i < count; i++) {
    const q = p + 4 * i;
    const size = b[q] | (b[q + 1] << 8);
    vt[base + i] = b[q + 2];
    voff[base + i] = vp;
    vsize[base + i] = size;
    vp += size;
  }
  if (vp > limit) fail('substitution values run past the data', p);
  ctx.nvals = base + count;
  ctx.instEnd = vp;
  return tpl;
}

/** The parsed template whose definition starts at chunk offset `off` (cached per chunk). */
export function templateAt(ctx: ChunkContext, off: number, from: number): XNode[] {
  const cached = ctx.templates.get(off);
  if (cached !== undefined) {
    if (cached === null) fail(`template at 0x${off.toString(16)} refers to itself`, from);
    return cached;
  }
  if (off < 512 || off + 24 > ctx.end) fail(`template offset 0x${off.toString(16)} is outside the chunk`, from);
  const size = u32(ctx.b, off + 20);
  const dataEnd = off + 24 + size;
  if (dataEnd > ctx.end) fail(`template at 0x${off.toString(16)} runs past the chunk`, off);
  // Carving reads names inline (another encoding); at the depth limit the parse itself would fail.
  const shareable = !ctx.carving && ctx.depth < MAX_DEPTH;
  if (shareable) {
    const seen = sharedTemplate(ctx, off, size);
    if (seen !== null) {
      ctx.templates.set(off, seen);
      return seen;
    }
  }
  ctx.templates.set(off, null);
  const outer = recording;
  const rec: NameRefs | null = shareable ? { base: off + 24, rel: [], inline: [], names: [], ok: true } : null;
  recording = rec;
  try {
    const nodes = parseFragment(ctx, off + 24, dataEnd, true);
    ctx.templates.set(off, nodes);
    if (rec !== null && rec.ok) shareTemplate(ctx, off, size, nodes, rec);
    return nodes;
  } catch (e) {
    // Do not cache a failure as a cycle marker: a later reference gets the same error again.
    ctx.templates.delete(off);
    throw e;
  } finally {
    recording = outer;
  }
}

// Templates shared across chunks. Every chunk defines its templates again; the same template in another
// chunk differs only where it refers to names (chunk offsets, and the link field of a name stored inline).
// A template is taken from here when its GUID and size match and every other byte is equal, and every
// name it refers to is the same text: then parsing it would give the same nodes. Parsing (and compiling)
// ~1000 template copies of a large log becomes ~100.

/** Name references met while parsing a template: positions (relative to its data), inline or not, names. */
interface NameRefs {
  base: number;
  rel: number[];
  inline: boolean[];
  names: string[];
  ok: boolean;
}

interface SharedTemplate {
  bytes: Buffer;
  refs: NameRefs;
  nodes: XNode[];
}

let recording: NameRefs | null = null;
const shared = new Map<string, SharedTemplate[]>();
let sharedBytes = 0;
/** Bounds on what is kept (hostile files can hold many distinct templates). */
const SHARED_MAX_BYTES = 8 << 20;
const SHARED_MAX_PER_KEY = 8;

function sharedKey(b: Buffer, off: number): string {
  // GUID and data size.
  return b.toString('latin1', off + 4, off + 24);
}

function shareTemplate(ctx: ChunkContext, off: number, size: number, nodes: XNode[], refs: NameRefs): void {
  if (sharedBytes + size > SHARED_MAX_BYTES) return;
  const key = sharedKey(ctx.b, off);
  let list = shared.get(key);
  if (list === undefined) shared.set(key, (list = []));
  if (list.length >= SHARED_MAX_PER_KEY) return;
  const bytes = Buffer.alloc(size);
  ctx.b.copy(bytes, 0, off + 24, off + 24 + size);
  list.push({ bytes, refs, nodes });
  sharedBytes += size;
}

function sharedTemplate(ctx: ChunkContext, off: number, size: number): XNode[] | null {
  if (shared.size === 0) return null;
  const list = shared.get(sharedKey(ctx.b, off));
  if (list === undefined) return null;
  for (let i = 0; i < list.length; i++) if (sameTemplate(ctx, off + 24, size, list[i])) return list[i].nodes;
  return null;
}

function sameTemplate(ctx: ChunkContext, d0: number, size: number, t: SharedTemplate): boolean {
  const b = ctx.b;
  const cb = t.bytes;
  if (cb.length !== size) return false;
  const { rel, inline, names } = t.refs;
  let pos = 0;
  for (let i = 0; i < rel.length; i++) {
    const r = rel[i];
    if (r < pos || !sameBytes(b, d0 + pos, cb, pos, r)) return false;
    const off = u32(b, d0 + r);
    const here = off === d0 + r + 4;
    if (here !== inline[i]) return false;
    if (here) {
      // Inline: skip the link field; the name's own bytes are compared with the rest.
      pos = r + 8;
    } else {
      if (nameAt(ctx, off) !== names[i]) return false;
      pos = r + 4;
    }
  }
  return pos <= size && sameBytes(b, d0 + pos, cb, pos, size);
}

/**
 * Whether b[at...] equals cb[from, to). A loop, not Buffer.compare: the pieces between name references
 * are a few bytes, and compare's argument checks cost far more (a tenth of the first chunks' time).
 */
function sameBytes(b: Buffer, at: number, cb: Buffer, from: number, to: number): boolean {
  if (at + (to - from) > b.length) return false;
  for (let i = from, j = at; i < to; i++, j++) if (b[j] !== cb[i]) return false;
  return true;
}

/** The name at chunk offset `off` as readName reads it, or null where readName would fail. */
function nameAt(ctx: ChunkContext, off: number): string | null {
  let name = ctx.names.get(off);
  if (name === undefined) {
    if (off + 8 > ctx.end) return null;
    const n = u16(ctx.b, off + 6);
    if (off + 8 + 2 * n > ctx.end) return null;
    name = utf16(ctx.b, off + 8, 2 * n);
    ctx.names.set(off, name);
  }
  return name;
}

