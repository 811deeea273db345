// The hot path: a template of the usual shape (Event -> System + EventData of Data/Binary) is compiled once
// per chunk into a flat list of field assignments, then replayed for each record with its values. Anything
// else (UserData, BinXML or array values, mixed content) returns null and takes the general tree walk in
// flatten.ts, which defines the behaviour this must reproduce exactly (a test compares the two).

import { flatInstance, parseFragment, type ChunkContext, type Val, type XElem, type XNode } from './binxml.js';
import { again, byte, bytes, filetimeValue, hex64Padded, jsonGen, jsonPos, num, raw, str, value } from './jsonout.js';
import type { EvtxRecord } from './record.js';
import { arrayItems, need, scalar, u16, u32, VT_ARRAY, VT_BINXML, VT_EVTXML, VT_FILETIME, VT_HEXINT32, VT_HEXINT64, VT_NULL, VT_UINT16, VT_UINT32, VT_UINT64, VT_UINT8 } from './values.js';
import { normalizeIsoText, normalizeKeywords, parseNumber } from './flatten.js';

export const enum Field {
  Provider, ProviderGuid, EventSourceName, EventId, Qualifiers, Version, Level, Task, Opcode, Keywords,
  TimeCreated, RecordId, ActivityId, RelatedActivityId, ProcessId, ThreadId, Channel, Computer, UserSid,
  /** event_data[key] */
  Data,
  /** event_data[paramN] */
  Unnamed,
  /** An EventData element starts: event_data_kind, and a new count of unnamed Data. */
  EventData,
  /** A BinXML value standing for children of Event (modern events carry EventData this way). */
  Nested,
}

/** Where a value comes from: literal text, or substitution `sub`. */
interface Op {
  f: Field;
  key: string;
  /** `key` as JSON text with its colon, UTF-8 (event data). */
  keyBytes: Uint8Array;
  lit: string | null;
  sub: number;
  opt: boolean;
  /** The element carrying the value (not an attribute): an optional null value drops it entirely. */
  elem: boolean;
  /** The value is the element's literal text, typed as written (Keywords keep their form). */
  literalText: boolean;
}

const NO_KEY = new Uint8Array(0);

/** Every op made here, so that they share one hidden class (literals and spreads gave replayOps several). */
function makeOp(f: Field, key: string, keyBytes: Uint8Array, s: { lit: string | null; sub: number; opt: boolean }, elem: boolean, literalText: boolean): Op {
  return { f, key, keyBytes, lit: s.lit, sub: s.sub, opt: s.opt, elem, literalText };
}

export interface Plan {
  ops: Op[];
  /** The plan adds event data (Data, Binary or unnamed values). */
  hasData: boolean;
}

/**
 * A plan whose event-data keys could repeat needs the general walk, which numbers repeats: the same
 * name twice, or a name of the form paramN beside unnamed Data (numbered param1, param2, ...).
 */
function finish(ops: Op[]): Plan | null {
  const keys = new Set<string>();
  const fields = new Set<Field>();
  let data = false;
  let unnamed = false;
  let paramNamed = false;
  for (const op of ops) {
    if (op.f === Field.Data) {
      // A repeat is numbered there; `__proto__` is set as a key there (ingest/own.ts), not assigned.
      if (keys.has(op.key) || op.key === '__proto__') return null;
      if (/^param\d+$/.test(op.key)) paramNamed = true;
      keys.add(op.key);
      data = true;
    } else if (op.f === Field.Unnamed) {
      data = true;
      unnamed = true;
    } else if (op.f !== Field.Nested && op.f !== Field.EventData) {
      if (fields.has(op.f)) return null;
      fields.add(op.f);
    }
  }
  if (unnamed && paramNamed) return null;
  return { ops, hasData: data };
}

// Maps, not objects: element and attribute names come from the log, and a plain object has `constructor`.
const ATTRS: ReadonlyMap<string, ReadonlyMap<string, Field>> = new Map(Object.entries({
  Provider: { Name: Field.Provider, Guid: Field.ProviderGuid, EventSourceName: Field.EventSourceName },
  EventID: { Qualifiers: Field.Qualifiers },
  TimeCreated: { SystemTime: Field.TimeCreated },
  Correlation: { ActivityID: Field.ActivityId, RelatedActivityID: Field.RelatedActivityId },
  Execution: { ProcessID: Field.ProcessId, ThreadID: Field.ThreadId },
  Security: { UserID: Field.UserSid },
}).map(([k, v]) => [k, new Map(Object.entries(v))]));
const TEXTS: ReadonlyMap<string, Field> = new Map(Object.entries({
  EventID: Field.EventId, Version: Field.Version, Level: Field.Level, Task: Field.Task, Opcode: Field.Opcode, Keywords: Field.Keywords,
  EventRecordID: Field.RecordId, Channel: Field.Channel, Computer: Field.Computer,
}));

/** A single-part source (one literal or one substitution), or undefined when the content is mixed. */
function source(parts: XNode[]): { lit: string | null; sub: number; opt: boolean } | undefined {
  if (parts.length === 0) return { lit: '', sub: -1, opt: false };
  if (parts.length !== 1) return undefined;
  const n = parts[0];
  if (n.t === 0) return { lit: n.v, sub: -1, opt: false };
  if (n.t === 1) return { lit: null, sub: n.i, opt: n.opt };
  return undefined;
}

// Plans by template nodes: templates are shared across chunks (binxml.ts), so a plan is compiled once per
// distinct template. Weak: a template no chunk uses any more goes with its plan.
const plans = new WeakMap<XNode[], Plan | null>();
const nestedPlans = new WeakMap<XNode[], Plan | null>();

/** The compiled plan of a record template, or null when it needs the general walk. */
export function planOf(tpl: XNode[]): Plan | null {
  let plan = plans.get(tpl);
  if (plan === undefined) plans.set(tpl, (plan = compile(tpl)));
  return plan;
}

function nestedPlanOf(tpl: XNode[]): Plan | null {
  let plan = nestedPlans.get(tpl);
  if (plan === undefined) nestedPlans.set(tpl, (plan = compileNested(tpl)));
  return plan;
}

/** Compiles a record template (root: Event). */
export function compile(tpl: XNode[]): Plan | null {
  const roots = tpl.filter((n) => n.t !== 4);
  if (roots.length !== 1 || roots[0].t !== 2) return null;
  const ops: Op[] = [];
  return compileChildren(roots[0].kids, ops) ? finish(ops) : null;
}

/** Compiles a template that a BinXML value holds in place of some of Event's children. */
export function compileNested(tpl: XNode[]): Plan | null {
  const ops: Op[] = [];
  return compileChildren(tpl, ops) ? finish(ops) : null;
}

function compileChildren(kids: XNode[], ops: Op[]): boolean {
  for (const part of kids) {
    if (part.t === 4) continue;
    if (part.t === 1) {
      ops.push(makeOp(Field.Nested, '', NO_KEY, { lit: null, sub: part.i, opt: part.opt }, false, false));
      continue;
    }
    if (part.t !== 2) return false;
    if (part.name === 'System') {
      if (!compileSystem(part, ops)) return false;
    } else if (part.name === 'EventData') {
      // Its attributes (a Name, on some events) are not part of the record.
      ops.push(makeOp(Field.EventData, '', NO_KEY, { lit: '', sub: -1, opt: false }, false, false));
      if (!compileEventData(part, ops)) return false;
    } else if (part.name === 'UserData' || part.name === 'ProcessingErrorData') {
      return false;
    }
  }
  return true;
}

function compileSystem(sys: XElem, ops: Op[]): boolean {
  for (const c of sys.kids) {
    if (c.t === 4) continue;
    if (c.t !== 2) return false;
    const attrMap = ATTRS.get(c.name);
    for (const a of c.attrs) {
      const f = attrMap?.get(a.name);
      if (f === undefined) continue;
      const s = source(a.parts);
      if (s === undefined) return false;
      ops.push(makeOp(f, '', NO_KEY, s, false, false));
    }
    const tf = TEXTS.get(c.name);
    if (tf !== undefined) {
      if (c.kids.some((k) => k.t === 2 || k.t === 3)) return false;
      const s = source(c.kids);
      if (s === undefined) return false;
      ops.push(makeOp(tf, '', NO_KEY, s, c.attrs.length === 0, s.lit !== null));
    } else if (c.kids.some((k) => k.t !== 4) && ATTRS.has(c.name)) {
      return false;
    }
  }
  return true;
}

function compileEventData(ed: XElem, ops: Op[]): boolean {
  for (const c of ed.kids) {
    if (c.t === 4) continue;
    if (c.t !== 2) return false;
    if (c.kids.some((k) => k.t === 2 || k.t === 3)) return false;
    const s = source(c.kids);
    if (s === undefined) return false;
    if (c.name === 'Data') {
      let key: string | null = null;
      for (const a of c.attrs) {
        if (a.name !== 'Name') continue;
        const ks = source(a.parts);
        if (ks === undefined || ks.lit === null) return false;
        key = ks.lit;
      }
      if (c.attrs.length > (key === null ? 0 : 1)) return false;
      ops.push(makeOp(key === null || key === '' ? Field.Unnamed : Field.Data, key ?? '', bytes(JSON.stringify(key ?? '') + ':'), s, c.attrs.length === 0, false));
    } else if (c.name === 'Binary') {
      if (c.attrs.length > 0) return false;
      ops.push(makeOp(Field.Data, 'Binary', bytes('"Binary":'), s, true, false));
    } else {
      return false;
    }
  }
  return true;
}

// Replay works on the flat value descriptors of ctx (see readInstanceFlat): first the plan's ops note
// where each field comes from (a value index or a literal) in scratch slots, one record at a time on a
// thread; then a finisher builds the record object or writes its JSON line as bytes (or, through
// replayFields and the accessors below, hunt's normalized line: ingest/normalize/evtx-lines.ts). Values
// are decoded only by the finisher, straight from the chunk's bytes.

const FIELD_COUNT = Field.Nested + 1;
/** How a System field is set: not at all, a final string, a value to render, a number, Keywords as 16 hex digits. */
const UNSET = 0;
const LIT = 1;
const VAL = 2;
const NUM = 3;
const KW64 = 4;
const sysKind = new Uint8Array(FIELD_COUNT);
const sysIdx = new Int32Array(FIELD_COUNT);
const sysNum = new Float64Array(FIELD_COUNT);
const sysLit: string[] = new Array<string>(FIELD_COUNT).fill('');
/** Event data in order: key (or unnamed: its parameter number), and a value index or a literal (index -1). */
let dataCount = 0;
const dataKey: string[] = [];
const dataKeyBytes: Uint8Array[] = [];
let dataParam = new Int32Array(64);
let dataIdx = new Int32Array(64);
const dataLit: string[] = [];
let dataPlans = 0;
let kindEventData = false;
/** The event-ID pre-filter of this replay, and whether it dropped the record before its data was decoded. */
let keepIds: ReadonlySet<number> | undefined;
let filteredOut = false;
let nestDepth = 0;
/** Nested BinXML values within values: deeper than this takes the general walk (which has its own limits). */
const MAX_NEST = 16;

/** Fills the scratch slots from the `count` values at flat index 0; false when the record needs the general walk (or was filtered out). */
function run(plan: Plan, ctx: ChunkContext, count: number, eventIds: ReadonlySet<number> | undefined): boolean {
  sysKind.fill(UNSET);
  dataCount = 0;
  dataPlans = 0;
  kindEventData = false;
  keepIds = eventIds;
  filteredOut = false;
  nestDepth = 0;
  return replayOps(plan, ctx, 0, count);
}

/** What replay gives for a record the event-ID pre-filter dropped. */
export const FILTERED = 'filtered';

/** A numeric field's value: as parseNumber(scalar(...)) gives it, read directly for the integer types. */
function numberOf(ctx: ChunkContext, idx: number, lit: string | null): number | undefined {
  if (lit !== null) return parseNumber(lit);
  const b = ctx.b;
  const vt = ctx.vt[idx];
  const off = ctx.voff[idx];
  const size = ctx.vsize[idx];
  switch (vt) {
    case VT_UINT8: need(size, 1); return b[off];
    case VT_UINT16: need(size, 2); return u16(b, off);
    case VT_UINT32: case VT_HEXINT32: need(size, 4); return u32(b, off);
    case VT_UINT64: {
      need(size, 8);
      const hi = u32(b, off + 4);
      if (hi < 0x200000) return hi * 0x100000000 + u32(b, off);
      break;
    }
  }
  return parseNumber(scalar(b, vt, off, size));
}

function pushData(key: string, keyBytes: Uint8Array, param: number, idx: number, lit: string | null): void {
  const n = dataCount++;
  if (n >= dataIdx.length) {
    const grow = (a: Int32Array) => {
      const g = new Int32Array(a.length * 2);
      g.set(a);
      return g;
    };
    dataIdx = grow(dataIdx);
    dataParam = grow(dataParam);
  }
  dataKey[n] = key;
  dataKeyBytes[n] = keyBytes;
  dataParam[n] = param;
  dataIdx[n] = idx;
  dataLit[n] = lit ?? '';
}

function replayOps(plan: Plan, ctx: ChunkContext, base: number, count: number): boolean {
  let unnamed = 0;
  const ops = plan.ops;
  // Keys are unique within a plan (checked when compiling); two plans adding data could collide.
  if (plan.hasData && ++dataPlans > 1) return false;
  for (let k = 0; k < ops.length; k++) {
    const op = ops[k];
    let idx = -1;
    let lit: string | null = op.lit;
    let vt = VT_NULL;
    if (lit === null) {
      if (op.sub < count) vt = ctx.vt[base + op.sub];
      if (vt === VT_NULL) {
        // Absent: an attribute is omitted, an optional element is dropped, a plain element is empty.
        if (!op.elem || op.opt) continue;
        lit = '';
      } else {
        if (op.f === Field.Nested) {
          if (vt !== VT_BINXML || !replayNested(ctx, base + op.sub)) return false;
          continue;
        }
        if (vt & VT_ARRAY && op.f === Field.Unnamed) {
          // Classic events' string arrays: the Data element repeats once per item (once, empty, for none).
          const items = arrayItems(ctx.b, vt, ctx.voff[base + op.sub], ctx.vsize[base + op.sub]);
          if (items.length === 0) pushData('', NO_KEY, ++unnamed, -1, '');
          for (let j = 0; j < items.length; j++) pushData('', NO_KEY, ++unnamed, -1, items[j]);
          continue;
        }
        if (vt & VT_ARRAY || vt === VT_BINXML || vt === VT_EVTXML) return false;
        idx = base + op.sub;
      }
    }
    const f = op.f;
    switch (f) {
      case Field.Data:
        pushData(op.key, op.keyBytes, 0, idx, lit);
        break;
      case Field.Unnamed:
        pushData('', NO_KEY, ++unnamed, idx, lit);
        break;
      case Field.EventData:
        if (kindEventData) return false;
        kindEventData = true;
        unnamed = 0;
        break;
      case Field.Nested:
        return false;
      case Field.EventId: {
        const id = numberOf(ctx, idx, lit) ?? 0;
        // The cheap pre-filter: stop before the event data is decoded.
        if (keepIds !== undefined && !keepIds.has(id)) {
          filteredOut = true;
          return false;
        }
        sysKind[f] = NUM;
        sysNum[f] = id;
        break;
      }
      case Field.RecordId:
        sysKind[f] = NUM;
        sysNum[f] = numberOf(ctx, idx, lit) ?? 0;
        break;
      case Field.Qualifiers:
      case Field.Version:
      case Field.Level:
      case Field.Task:
      case Field.Opcode:
      case Field.ProcessId:
      case Field.ThreadId: {
        const n = numberOf(ctx, idx, lit);
        if (n !== undefined) {
          sysKind[f] = NUM;
          sysNum[f] = n;
        }
        break;
      }
      case Field.Keywords:
        if (vt === VT_HEXINT64) {
          need(ctx.vsize[idx], 8);
          sysKind[f] = KW64;
          sysIdx[f] = idx;
        } else {
          const v = lit ?? scalar(ctx.b, vt, ctx.voff[idx], ctx.vsize[idx]);
          if (v !== '') {
            sysKind[f] = LIT;
            sysLit[f] = op.literalText ? v : normalizeKeywords(v);
          }
        }
        break;
      case Field.TimeCreated:
        if (vt === VT_FILETIME) {
          // A FILETIME renders in the normalized form already.
          sysKind[f] = VAL;
          sysIdx[f] = idx;
        } else {
          sysKind[f] = LIT;
          sysLit[f] = normalizeIsoText(lit ?? scalar(ctx.b, vt, ctx.voff[idx], ctx.vsize[idx]));
        }
        break;
      default:
        if (idx >= 0) {
          sysKind[f] = VAL;
          sysIdx[f] = idx;
        } else {
          sysKind[f] = LIT;
          sysLit[f] = lit!;
        }
    }
  }
  return true;
}

/** A BinXML value (flat index `idx`) holding one template instance of Event children (usually the EventData). */
function replayNested(ctx: ChunkContext, idx: number): boolean {
  const off = ctx.voff[idx];
  const size = ctx.vsize[idx];
  if (size === 0) return true;
  if (nestDepth >= MAX_NEST) return false;
  const base = ctx.nvals;
  let tpl = flatInstance(ctx, off, off + size);
  if (tpl === null) {
    const nodes = parseFragment(ctx, off, off + size, false);
    if (nodes.length !== 1 || nodes[0].t !== 3) return false;
    tpl = nodes[0].tpl;
    loadVals(ctx, nodes[0].vals, base);
  }
  const plan = nestedPlanOf(tpl);
  if (plan === null) return false;
  nestDepth++;
  const ok = replayOps(plan, ctx, base, ctx.nvals - base);
  nestDepth--;
  return ok;
}

/** Puts an instance's Val objects into the flat descriptors from index `base` (the tree path's instances). */
export function loadVals(ctx: ChunkContext, vals: Val[], base: number): void {
  ctx.reserve(base + vals.length);
  for (let i = 0; i < vals.length; i++) {
    ctx.vt[base + i] = vals[i].vt;
    ctx.voff[base + i] = vals[i].off;
    ctx.vsize[base + i] = vals[i].size;
  }
  ctx.nvals = base + vals.length;
}

const paramKeys: string[] = [];
function paramKey(n: number): string {
  return paramKeys[n] ?? (paramKeys[n] = 'param' + n);
}

// The object path's last string per System field and a copy of the bytes it came from: most System values
// (provider, GUID, channel, computer, keywords, SID) repeat record after record, and a repeat is a short
// byte compare instead of a decode (and one string shared by the records instead of many copies).
const MEMO_MAX = 96;
const memoBytes = new Uint8Array(FIELD_COUNT * MEMO_MAX);
/** Size of the remembered value, or -1 when there is none. */
const memoSize = new Int32Array(FIELD_COUNT).fill(-1);
const memoVt = new Int32Array(FIELD_COUNT);
const memoStr: string[] = new Array<string>(FIELD_COUNT).fill('');

function memoScalar(ctx: ChunkContext, f: Field, i: number, kw: boolean): string {
  const b = ctx.b;
  const vt = ctx.vt[i];
  const off = ctx.voff[i];
  const size = ctx.vsize[i];
  const m = f * MEMO_MAX;
  if (memoSize[f] === size && memoVt[f] === vt) {
    let k = 0;
    while (k < size && memoBytes[m + k] === b[off + k]) k++;
    if (k === size) return memoStr[f];
  }
  const s = kw ? padHex64(scalar(b, vt, off, size)) : scalar(b, vt, off, size);
  if (size <= MEMO_MAX) {
    for (let k = 0; k < size; k++) memoBytes[m + k] = b[off + k];
    memoSize[f] = size;
    memoVt[f] = vt;
    memoStr[f] = s;
  }
  return s;
}

function sysString(ctx: ChunkContext, f: Field): string | undefined {
  switch (sysKind[f]) {
    case LIT: return sysLit[f];
    case VAL: return f === Field.TimeCreated ? scalarAt(ctx, sysIdx[f]) : memoScalar(ctx, f, sysIdx[f], false);
    case KW64: return memoScalar(ctx, f, sysIdx[f], true);
    default: return undefined;
  }
}

function scalarAt(ctx: ChunkContext, i: number): string {
  return scalar(ctx.b, ctx.vt[i], ctx.voff[i], ctx.vsize[i]);
}

function sysValue(ctx: ChunkContext, f: Field): string | number | undefined {
  return sysKind[f] === NUM ? sysNum[f] : sysString(ctx, f);
}

/**
 * The record from a compiled plan and the `count` values at flat index 0, or null when this record's
 * values need the general walk.
 */
export function replay(plan: Plan, ctx: ChunkContext, count: number, recordNumber: number, writtenTime: string, eventIds?: ReadonlySet<number>): EvtxRecord | typeof FILTERED | null {
  if (!run(plan, ctx, count, eventIds)) return filteredOut ? FILTERED : null;
  const b = ctx.b;
  const data: Record<string, string> = {};
  for (let i = 0; i < dataCount; i++) {
    const idx = dataIdx[i];
    data[dataParam[i] > 0 ? paramKey(dataParam[i]) : dataKey[i]] = idx < 0 ? dataLit[i] : scalar(b, ctx.vt[idx], ctx.voff[idx], ctx.vsize[idx]);
  }
  const rec = {
    record_id: sysKind[Field.RecordId] === NUM ? sysNum[Field.RecordId] : 0,
    record_number: recordNumber,
    written_time: writtenTime,
    timestamp: sysString(ctx, Field.TimeCreated) ?? '',
    channel: sysString(ctx, Field.Channel) ?? '',
    provider: sysString(ctx, Field.Provider) ?? '',
    event_id: sysKind[Field.EventId] === NUM ? sysNum[Field.EventId] : 0,
    computer: sysString(ctx, Field.Computer) ?? '',
    event_data: data,
    event_data_kind: kindEventData ? 'EventData' : 'none',
  } as EvtxRecord;
  // Named stores in OPTIONAL's order (a keyed store with a different name each time is slow).
  if (sysKind[Field.ProviderGuid] !== UNSET) rec.provider_guid = sysString(ctx, Field.ProviderGuid);
  if (sysKind[Field.EventSourceName] !== UNSET) rec.event_source_name = sysString(ctx, Field.EventSourceName);
  if (sysKind[Field.Qualifiers] !== UNSET) rec.qualifiers = sysValue(ctx, Field.Qualifiers) as number;
  if (sysKind[Field.Version] !== UNSET) rec.version = sysValue(ctx, Field.Version) as number;
  if (sysKind[Field.Level] !== UNSET) rec.level = sysValue(ctx, Field.Level) as number;
  if (sysKind[Field.Task] !== UNSET) rec.task = sysValue(ctx, Field.Task) as number;
  if (sysKind[Field.Opcode] !== UNSET) rec.opcode = sysValue(ctx, Field.Opcode) as number;
  if (sysKind[Field.Keywords] !== UNSET) rec.keywords = sysString(ctx, Field.Keywords);
  if (sysKind[Field.ActivityId] !== UNSET) rec.activity_id = sysString(ctx, Field.ActivityId);
  if (sysKind[Field.RelatedActivityId] !== UNSET) rec.related_activity_id = sysString(ctx, Field.RelatedActivityId);
  if (sysKind[Field.ProcessId] !== UNSET) rec.process_id = sysValue(ctx, Field.ProcessId) as number;
  if (sysKind[Field.ThreadId] !== UNSET) rec.thread_id = sysValue(ctx, Field.ThreadId) as number;
  if (sysKind[Field.UserSid] !== UNSET) rec.user_sid = sysString(ctx, Field.UserSid);
  return rec;
}

// The replayed fields, for a finisher of another module (ingest/normalize/evtx-lines.ts writes normalized
// events' lines from them): valid from replayFields() until the next replay on this thread.

/** Replays a plan into the scratch fields; false when the record needs the general walk. */
export function replayFields(plan: Plan, ctx: ChunkContext, count: number): boolean {
  return run(plan, ctx, count, undefined);
}

/** A numeric System field (IDs, level, task, opcode, version, process and thread), undefined when unset. */
export function fieldNumber(f: Field): number | undefined {
  return sysKind[f] === NUM ? sysNum[f] : undefined;
}

/** A text System field as replay() gives it, undefined when unset or numeric. */
export function fieldText(ctx: ChunkContext, f: Field): string | undefined {
  return sysKind[f] === NUM ? undefined : sysString(ctx, f);
}

/** The flat index of the value a System field was set from, or -1 (a literal, a number, or unset). */
export function fieldIndex(f: Field): number {
  return sysKind[f] === VAL ? sysIdx[f] : -1;
}

/** How many event data values the record has. */
export function dataLength(): number {
  return dataCount;
}

/** The name of event data value `i`, as replay() keys it. */
export function dataName(i: number): string {
  return dataParam[i] > 0 ? paramKey(dataParam[i]) : dataKey[i];
}

/** The name of named event data value `i` as JSON with its colon; undefined for an unnamed one (paramN). */
export function dataNameJson(i: number): Uint8Array | undefined {
  return dataParam[i] > 0 ? undefined : dataKeyBytes[i];
}

/** The flat index of event data value `i`, or -1 when it is a literal (dataLiteral). */
export function dataIndex(i: number): number {
  return dataIdx[i];
}

export function dataLiteral(i: number): string {
  return dataLit[i];
}

const OPTIONAL = [Field.ProviderGuid, Field.EventSourceName, Field.Qualifiers, Field.Version, Field.Level, Field.Task, Field.Opcode, Field.Keywords, Field.ActivityId, Field.RelatedActivityId, Field.ProcessId, Field.ThreadId, Field.UserSid];
const OPTIONAL_NAMES = ['provider_guid', 'event_source_name', 'qualifiers', 'version', 'level', 'task', 'opcode', 'keywords', 'activity_id', 'related_activity_id', 'process_id', 'thread_id', 'user_sid'];
const OPTIONAL_KEYS = OPTIONAL_NAMES.map((n) => bytes(`,"${n}":`));
const K_RECORD_ID = bytes('{"record_id":');
const K_RECORD_NUMBER = bytes(',"record_number":');
const K_WRITTEN = bytes(',"written_time":');
const K_TIMESTAMP = bytes(',"timestamp":');
const K_CHANNEL = bytes(',"channel":');
const K_PROVIDER = bytes(',"provider":');
const K_EVENT_ID = bytes(',"event_id":');
const K_COMPUTER = bytes(',"computer":');
const K_EVENT_DATA = bytes(',"event_data":{');
const K_PARAM = bytes('"param');
const K_KIND_EVENTDATA = bytes(',"event_data_kind":"EventData"');
const K_KIND_NONE = bytes(',"event_data_kind":"none"');
const K_RECOVERED_END = bytes(',"recovered":true}\n');
const K_END = bytes('}\n');
const EMPTY = bytes('""');

// As memoScalar for the JSON path: the last JSON text written per System field, and its source bytes.
// The text is not kept: it is copied from where it was last written (jsonout's again), while still there.
const jmemoBytes = new Uint8Array(FIELD_COUNT * MEMO_MAX);
const jmemoSize = new Int32Array(FIELD_COUNT).fill(-1);
const jmemoVt = new Int32Array(FIELD_COUNT);
const jmemoAt = new Int32Array(FIELD_COUNT);
const jmemoLen = new Int32Array(FIELD_COUNT);
const jmemoGen = new Float64Array(FIELD_COUNT).fill(-1);

function writeMemo(ctx: ChunkContext, f: Field, i: number, kw: boolean): void {
  const b = ctx.b;
  const vt = ctx.vt[i];
  const off = ctx.voff[i];
  const size = ctx.vsize[i];
  const m = f * MEMO_MAX;
  if (jmemoSize[f] === size && jmemoVt[f] === vt && jmemoGen[f] === jsonGen()) {
    let k = 0;
    while (k < size && jmemoBytes[m + k] === b[off + k]) k++;
    if (k === size) return again(jmemoAt[f], jmemoLen[f]);
  }
  const start = jsonPos();
  if (kw) hex64Padded(b, off);
  else value(b, vt, off, size);
  if (size > MEMO_MAX) return;
  for (let k = 0; k < size; k++) jmemoBytes[m + k] = b[off + k];
  jmemoSize[f] = size;
  jmemoVt[f] = vt;
  jmemoAt[f] = start;
  jmemoLen[f] = jsonPos() - start;
  jmemoGen[f] = jsonGen();
}

/** Writes a System field's string (or "" when unset). */
function writeSys(ctx: ChunkContext, f: Field): void {
  switch (sysKind[f]) {
    case LIT: return str(sysLit[f]);
    case VAL: {
      const i = sysIdx[f];
      if (f === Field.TimeCreated) return value(ctx.b, ctx.vt[i], ctx.voff[i], ctx.vsize[i]);
      return writeMemo(ctx, f, i, false);
    }
    case KW64: return writeMemo(ctx, f, sysIdx[f], true);
    case NUM: return num(sysNum[f]);
    default: return raw(EMPTY);
  }
}

/**
 * Writes the record's JSON line (with the reference dumps' field names, newline included) to the JSON
 * writer straight from the plan; false when the record needs the general walk. `eventIds`: the
 * pre-filter; a filtered-out record writes nothing and gives true. The record header's FILETIME is
 * `writtenLo`/`writtenHi`. A throw can leave part of a line written: the caller rewinds.
 */
export function replayJson(plan: Plan, ctx: ChunkContext, count: number, recordNumber: number, writtenLo: number, writtenHi: number, recovered: boolean, eventIds: ReadonlySet<number> | undefined): boolean {
  if (!run(plan, ctx, count, eventIds)) return filteredOut;
  const eventId = sysKind[Field.EventId] === NUM ? sysNum[Field.EventId] : 0;
  // A template without an EventID element: the filter still applies (to 0).
  if (eventIds !== undefined && !eventIds.has(eventId)) return true;
  const b = ctx.b;
  raw(K_RECORD_ID);
  num(sysKind[Field.RecordId] === NUM ? sysNum[Field.RecordId] : 0);
  raw(K_RECORD_NUMBER);
  num(recordNumber);
  raw(K_WRITTEN);
  filetimeValue(writtenLo, writtenHi);
  raw(K_TIMESTAMP);
  writeSys(ctx, Field.TimeCreated);
  raw(K_CHANNEL);
  writeSys(ctx, Field.Channel);
  raw(K_PROVIDER);
  writeSys(ctx, Field.Provider);
  raw(K_EVENT_ID);
  num(eventId);
  raw(K_COMPUTER);
  writeSys(ctx, Field.Computer);
  raw(K_EVENT_DATA);
  for (let i = 0; i < dataCount; i++) {
    if (i > 0) byte(0x2c);
    const p = dataParam[i];
    if (p > 0) {
      raw(K_PARAM);
      num(p);
      byte(0x22);
      byte(0x3a);
    } else raw(dataKeyBytes[i]);
    const idx = dataIdx[i];
    if (idx < 0) str(dataLit[i]);
    else value(b, ctx.vt[idx], ctx.voff[idx], ctx.vsize[idx]);
  }
  byte(0x7d);
  for (let k = 0; k < OPTIONAL.length; k++) {
    const f = OPTIONAL[k];
    if (sysKind[f] === UNSET) continue;
    raw(OPTIONAL_KEYS[k]);
    writeSys(ctx, f);
  }
  raw(kindEventData ? K_KIND_EVENTDATA : K_KIND_NONE);
  raw(recovered ? K_RECOVERED_END : K_END);
  return true;
}

function padHex64(v: string): string {
  return v.length === 18 ? v : '0x' + v.slice(2).padStart(16, '0');
}
