// The hot path: a template of the usual shape (Event -> System + EventData of Data/Binary) is compiled once
// per chunk into a flat list of field assignments, then replayed for each record with its values. Anything
// else (UserData, BinXML or array values, mixed content) returns null and takes the general tree walk in
// flatten.ts, which defines the behaviour this must reproduce exactly (a test compares the two).

import { parseFragment, type ChunkContext, type Val, type XElem, type XNode } from './binxml.js';
import type { EvtxRecord } from './record.js';
import { scalar, VT_ANSI, VT_ARRAY, VT_BINXML, VT_EVTXML, VT_HEXINT64, VT_NULL, VT_STRING } from './values.js';
import { normalizeIsoText, normalizeKeywords, parseNumber } from './flatten.js';

const enum F {
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
  f: F;
  key: string;
  /** `key` as JSON text with its colon. */
  keyJson: string;
  lit: string | null;
  sub: number;
  opt: boolean;
  /** The element carrying the value (not an attribute): an optional null value drops it entirely. */
  elem: boolean;
  /** The value is the element's literal text, typed as written (Keywords keep their form). */
  literalText: boolean;
}

export interface Plan {
  ops: Op[];
  /** The plan adds event data (Data, Binary or unnamed values). */
  hasData: boolean;
}

/** A plan whose event-data keys could repeat needs the general walk, which numbers repeats. */
function finish(ops: Op[]): Plan | null {
  const keys = new Set<string>();
  const fields = new Set<F>();
  let data = false;
  for (const op of ops) {
    if (op.f === F.Data) {
      if (keys.has(op.key) || /^param\d+$/.test(op.key)) return null;
      keys.add(op.key);
      data = true;
    } else if (op.f === F.Unnamed) {
      data = true;
    } else if (op.f !== F.Nested && op.f !== F.EventData) {
      if (fields.has(op.f)) return null;
      fields.add(op.f);
    }
  }
  return { ops, hasData: data };
}

const ATTRS: Record<string, Record<string, F>> = {
  Provider: { Name: F.Provider, Guid: F.ProviderGuid, EventSourceName: F.EventSourceName },
  EventID: { Qualifiers: F.Qualifiers },
  TimeCreated: { SystemTime: F.TimeCreated },
  Correlation: { ActivityID: F.ActivityId, RelatedActivityID: F.RelatedActivityId },
  Execution: { ProcessID: F.ProcessId, ThreadID: F.ThreadId },
  Security: { UserID: F.UserSid },
};
const TEXTS: Record<string, F> = {
  EventID: F.EventId, Version: F.Version, Level: F.Level, Task: F.Task, Opcode: F.Opcode, Keywords: F.Keywords,
  EventRecordID: F.RecordId, Channel: F.Channel, Computer: F.Computer,
};

/** A single-part source (one literal or one substitution), or undefined when the content is mixed. */
function source(parts: XNode[]): { lit: string | null; sub: number; opt: boolean } | undefined {
  if (parts.length === 0) return { lit: '', sub: -1, opt: false };
  if (parts.length !== 1) return undefined;
  const n = parts[0];
  if (n.t === 0) return { lit: n.v, sub: -1, opt: false };
  if (n.t === 1) return { lit: null, sub: n.i, opt: n.opt };
  return undefined;
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
      ops.push({ f: F.Nested, key: '', keyJson: '', lit: null, sub: part.i, opt: part.opt, elem: false, literalText: false });
      continue;
    }
    if (part.t !== 2) return false;
    if (part.name === 'System') {
      if (!compileSystem(part, ops)) return false;
    } else if (part.name === 'EventData') {
      if (part.attrs.length > 0) return false;
      ops.push({ f: F.EventData, key: '', keyJson: '', lit: '', sub: -1, opt: false, elem: false, literalText: false });
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
    const attrMap = ATTRS[c.name];
    for (const a of c.attrs) {
      const f = attrMap?.[a.name];
      if (f === undefined) continue;
      const s = source(a.parts);
      if (s === undefined) return false;
      ops.push({ f, key: '', keyJson: '', ...s, elem: false, literalText: false });
    }
    const tf = TEXTS[c.name];
    if (tf !== undefined) {
      if (c.kids.some((k) => k.t === 2 || k.t === 3)) return false;
      const s = source(c.kids);
      if (s === undefined) return false;
      ops.push({ f: tf, key: '', keyJson: '', ...s, elem: c.attrs.length === 0, literalText: s.lit !== null });
    } else if (c.kids.some((k) => k.t !== 4) && c.name in ATTRS) {
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
      ops.push({ f: key === null || key === '' ? F.Unnamed : F.Data, key: key ?? '', keyJson: JSON.stringify(key ?? '') + ':', ...s, elem: c.attrs.length === 0, literalText: false });
    } else if (c.name === 'Binary') {
      if (c.attrs.length > 0) return false;
      ops.push({ f: F.Data, key: 'Binary', keyJson: '"Binary":', ...s, elem: true, literalText: false });
    } else {
      return false;
    }
  }
  return true;
}

// Replay writes into these scratch slots (one record at a time on a thread), then one of two finishers
// builds either the record object or its JSON line directly, without an object in between.
const FIELD_COUNT = F.Nested + 1;
const sys: (string | number | undefined)[] = new Array(FIELD_COUNT).fill(undefined);
const dataKeys: string[] = [];
/** Each key as JSON text with its colon, made once per plan (or from the parameter number). */
const dataKeyJson: string[] = [];
const dataVals: string[] = [];
/** The value is JSON-safe as it is (a number, GUID, SID, time or hex rendering): no escape check needed. */
const dataSafe: boolean[] = [];
let dataPlans = 0;
let kindEventData = false;
/** The event-ID pre-filter of this replay, and whether it dropped the record before its data was decoded. */
let keepIds: ReadonlySet<number> | undefined;
let filteredOut = false;

/** Fills the scratch slots; false when this record's values need the general walk (or it was filtered out). */
function run(plan: Plan, ctx: ChunkContext, vals: Val[], eventIds: ReadonlySet<number> | undefined): boolean {
  sys.fill(undefined);
  dataKeys.length = 0;
  dataKeyJson.length = 0;
  dataVals.length = 0;
  dataSafe.length = 0;
  dataPlans = 0;
  kindEventData = false;
  keepIds = eventIds;
  filteredOut = false;
  return replayOps(plan, ctx, vals);
}

/** What replay gives for a record the event-ID pre-filter dropped. */
export const FILTERED = 'filtered';

function replayOps(plan: Plan, ctx: ChunkContext, vals: Val[]): boolean {
  const b = ctx.b;
  let unnamed = 0;
  const ops = plan.ops;
  // Keys are unique within a plan (checked when compiling); two plans adding data could collide.
  if (plan.hasData && ++dataPlans > 1) return false;
  for (let k = 0; k < ops.length; k++) {
    const op = ops[k];
    let v: string;
    let hex64 = false;
    let safe = false;
    if (op.lit !== null) v = op.lit;
    else {
      const val = vals[op.sub];
      if (val === undefined || val.vt === VT_NULL) {
        // Absent: an attribute is omitted, an optional element is dropped, a plain element is empty.
        if (!op.elem || op.opt) continue;
        v = '';
      } else {
        const vt = val.vt;
        if (op.f === F.Nested) {
          if (vt !== VT_BINXML || !replayNested(ctx, val)) return false;
          continue;
        }
        if (vt & VT_ARRAY || vt === VT_BINXML || vt === VT_EVTXML) return false;
        v = scalar(b, vt, val.off, val.size);
        hex64 = vt === VT_HEXINT64;
        safe = vt !== VT_STRING && vt !== VT_ANSI && vt <= VT_HEXINT64;
      }
    }
    switch (op.f) {
      case F.Data:
        dataKeys.push(op.key);
        dataKeyJson.push(op.keyJson);
        dataVals.push(v);
        dataSafe.push(safe);
        break;
      case F.Unnamed: {
        const key = 'param' + ++unnamed;
        dataKeys.push(key);
        dataKeyJson.push('"' + key + '":');
        dataVals.push(v);
        dataSafe.push(safe);
        break;
      }
      case F.EventData:
        if (kindEventData) return false;
        kindEventData = true;
        unnamed = 0;
        break;
      case F.Nested:
        return false;
      case F.EventId: {
        const id = parseNumber(v) ?? 0;
        // The cheap pre-filter: stop before the event data is decoded.
        if (keepIds !== undefined && !keepIds.has(id)) {
          filteredOut = true;
          return false;
        }
        sys[F.EventId] = id;
        break;
      }
      case F.RecordId:
        sys[op.f] = parseNumber(v) ?? 0;
        break;
      case F.Qualifiers:
      case F.Version:
      case F.Level:
      case F.Task:
      case F.Opcode:
      case F.ProcessId:
      case F.ThreadId: {
        const n = parseNumber(v);
        if (n !== undefined) sys[op.f] = n;
        break;
      }
      case F.Keywords:
        if (v !== '') sys[F.Keywords] = op.literalText ? v : hex64 ? padHex64(v) : normalizeKeywords(v);
        break;
      case F.TimeCreated:
        sys[F.TimeCreated] = normalizeIsoText(v);
        break;
      default:
        sys[op.f] = v;
    }
  }
  return true;
}

/** A BinXML value holding one template instance of Event children (usually the EventData). */
function replayNested(ctx: ChunkContext, val: Val): boolean {
  if (val.size === 0) return true;
  const nodes = parseFragment(ctx, val.off, val.off + val.size, false);
  if (nodes.length !== 1 || nodes[0].t !== 3) return false;
  const inst = nodes[0];
  let plan = ctx.nestedPlans.get(inst.tpl) as Plan | null | undefined;
  if (plan === undefined) ctx.nestedPlans.set(inst.tpl, (plan = compileNested(inst.tpl)));
  return plan !== null && replayOps(plan, ctx, inst.vals);
}

/** The record from a compiled plan, or null when this record's values need the general walk. */
export function replay(plan: Plan, ctx: ChunkContext, vals: Val[], recordNumber: number, writtenTime: string, eventIds?: ReadonlySet<number>): EvtxRecord | typeof FILTERED | null {
  if (!run(plan, ctx, vals, eventIds)) return filteredOut ? FILTERED : null;
  const data: Record<string, string> = {};
  for (let i = 0; i < dataKeys.length; i++) data[dataKeys[i]] = dataVals[i];
  const rec = {
    record_id: sys[F.RecordId] ?? 0,
    record_number: recordNumber,
    written_time: writtenTime,
    timestamp: sys[F.TimeCreated] ?? '',
    channel: sys[F.Channel] ?? '',
    provider: sys[F.Provider] ?? '',
    event_id: sys[F.EventId] ?? 0,
    computer: sys[F.Computer] ?? '',
    event_data: data,
    event_data_kind: kindEventData ? 'EventData' : 'none',
  } as EvtxRecord;
  for (let f = 0; f < OPTIONAL.length; f++) {
    const v = sys[OPTIONAL[f]];
    if (v !== undefined) (rec as unknown as Record<string, unknown>)[OPTIONAL_NAMES[f]] = v;
  }
  return rec;
}

const OPTIONAL = [F.ProviderGuid, F.EventSourceName, F.Qualifiers, F.Version, F.Level, F.Task, F.Opcode, F.Keywords, F.ActivityId, F.RelatedActivityId, F.ProcessId, F.ThreadId, F.UserSid];
const OPTIONAL_NAMES = ['provider_guid', 'event_source_name', 'qualifiers', 'version', 'level', 'task', 'opcode', 'keywords', 'activity_id', 'related_activity_id', 'process_id', 'thread_id', 'user_sid'];
const OPTIONAL_KEYS = OPTIONAL_NAMES.map((n) => `,"${n}":`);

// Strings that JSON.stringify would escape (or that are not well-formed UTF-16) take the slow path.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/; // eslint-disable-line no-control-regex
function q(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

/**
 * The record's JSON line (with the reference dumps' field names) straight from the plan, or null when the
 * record needs the general walk. `eventIds`: the pre-filter; a filtered-out record gives ''.
 */
export function replayJson(plan: Plan, ctx: ChunkContext, vals: Val[], recordNumber: number, writtenTime: string, recovered: boolean, eventIds: ReadonlySet<number> | undefined): string | null {
  if (!run(plan, ctx, vals, eventIds)) return filteredOut ? '' : null;
  const eventId = (sys[F.EventId] as number | undefined) ?? 0;
  // A template without an EventID element: the filter still applies (to 0).
  if (eventIds !== undefined && !eventIds.has(eventId)) return '';
  let s = '{"record_id":' + (sys[F.RecordId] ?? 0) + ',"record_number":' + recordNumber + ',"written_time":"' + writtenTime +
    '","timestamp":' + q((sys[F.TimeCreated] as string | undefined) ?? '') + ',"channel":' + q((sys[F.Channel] as string | undefined) ?? '') +
    ',"provider":' + q((sys[F.Provider] as string | undefined) ?? '') + ',"event_id":' + eventId +
    ',"computer":' + q((sys[F.Computer] as string | undefined) ?? '') + ',"event_data":{';
  for (let i = 0; i < dataKeys.length; i++) {
    s += (i === 0 ? dataKeyJson[i] : ',' + dataKeyJson[i]) + (dataSafe[i] ? '"' + dataVals[i] + '"' : q(dataVals[i]));
  }
  s += '}';
  for (let f = 0; f < OPTIONAL.length; f++) {
    const v = sys[OPTIONAL[f]];
    if (v !== undefined) s += OPTIONAL_KEYS[f] + (typeof v === 'number' ? v : q(v));
  }
  return s + (kindEventData ? ',"event_data_kind":"EventData"' : ',"event_data_kind":"none"') + (recovered ? ',"recovered":true}' : '}');
}

function padHex64(v: string): string {
  return v.length === 18 ? v : '0x' + v.slice(2).padStart(16, '0');
}
