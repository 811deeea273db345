// EVTX records already turned into JSON by a parser, in the two layouts such dumps take:
// - `hoptrail-dump`: the flat records of `hoptrail dump` (the field names of ../shared/corpus's reference
//   dumps: `record_id`, `timestamp`, `channel`, `provider`, `event_id`, `computer`, `event_data`, ...);
// - `event-xml-json`: the event's XML mirrored as JSON, `{"Event": {"System": {...}, "EventData": {...}}}`, as
//   the Rust evtx crate's `evtx_dump -o json|jsonl` writes it (attributes under `#attributes`, or beside the
//   element as `Name_attributes` with --separate-json-attributes), and as golang-evtx (attributes as plain
//   keys) and xmltodict (`@Name`, `#text`) write it.
// Both become the parser's own record shape, so they normalize exactly as the EVTX file would.
import { addNumbered, setOwn } from '../own.js';
import type { EventDataKind } from '../evtx/record.js';
import type { SourceRecord } from '../normalize/source.js';
import { int, isObj, str, type Obj } from './adapt.js';

const KINDS: ReadonlySet<string> = new Set<EventDataKind>(['EventData', 'UserData', 'ProcessingErrorData', 'none']);

/** A scalar as the reference dumps render it: strings as they are, numbers in decimal, null as empty. */
function scalarText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/** A flat value map, every value a string (dumps write strings; other writers may not). */
function flatStrings(v: unknown): Record<string, string> | undefined {
  if (!isObj(v)) return undefined;
  const out: Record<string, string> = {};
  for (const k in v) setOwn(out, k, scalarText(v[k]));
  return out;
}

/** `hoptrail dump` JSON lines (and the corpus reference dumps): already the record shape, checked field by field. */
export function fromHoptrailDump(o: Obj): SourceRecord | string {
  const id = int(o.event_id);
  if (id === undefined) return 'hoptrail dump: no event_id';
  const time = str(o.timestamp);
  if (time === undefined) return 'hoptrail dump: no timestamp';
  const channel = str(o.channel), provider = str(o.provider), computer = str(o.computer);
  if (!channel || !provider || !computer) return 'hoptrail dump: no channel, provider or computer';
  const data = o.event_data === undefined || o.event_data === null ? {} : flatStrings(o.event_data);
  if (data === undefined) return 'hoptrail dump: event_data is not an object';
  const kind = str(o.event_data_kind) ?? (Object.keys(data).length > 0 ? 'EventData' : 'none');
  if (!KINDS.has(kind)) return `hoptrail dump: unknown event_data_kind '${kind}'`;
  const rec: SourceRecord = { timestamp: time, channel, provider, computer, event_id: id, event_data: data, event_data_kind: kind as EventDataKind };
  const rid = int(o.record_id);
  if (rid !== undefined) rec.record_id = rid;
  const wt = str(o.written_time);
  if (wt) rec.written_time = wt;
  const guid = str(o.provider_guid);
  if (guid) rec.provider_guid = guid;
  const ver = int(o.version), lv = int(o.level), task = int(o.task), op = int(o.opcode);
  if (ver !== undefined) rec.version = ver;
  if (lv !== undefined) rec.level = lv;
  if (task !== undefined) rec.task = task;
  if (op !== undefined) rec.opcode = op;
  const kw = str(o.keywords);
  if (kw) rec.keywords = kw.toLowerCase();
  const act = str(o.activity_id), rel = str(o.related_activity_id);
  if (act) rec.activity_id = act;
  if (rel) rec.related_activity_id = rel;
  const pid = int(o.process_id), tid = int(o.thread_id);
  if (pid !== undefined) rec.process_id = pid;
  if (tid !== undefined) rec.thread_id = tid;
  const sid = str(o.user_sid);
  if (sid) rec.user_sid = sid;
  const root = str(o.user_data_root);
  if (root) rec.user_data_root = root;
  if (o.recovered === true) rec.recovered = true;
  return rec;
}

// ---- the XML-mirroring layout ----

const ATTRS = '#attributes';
const TEXT = '#text';

/** An attribute of element `key` of `parent`, in any of the layouts' spellings. */
function attr(parent: Obj, key: string, name: string): unknown {
  const el = parent[key];
  if (isObj(el)) {
    const a = el[ATTRS];
    if (isObj(a) && name in a) return a[name];
    if ('@' + name in el) return el['@' + name];
    if (name in el) return el[name];
  }
  const sep = parent[key + '_attributes'];
  return isObj(sep) ? sep[name] : undefined;
}

/** The text of element `key` of `parent`: a plain value, or its `#text` (golang-evtx: `Value`). */
function text(parent: Obj, key: string): unknown {
  const el = parent[key];
  if (!isObj(el)) return el;
  return TEXT in el ? el[TEXT] : el.Value;
}

/** A GUID as EVTX renders it: upper case, in braces (evtx_dump writes provider GUIDs bare). */
function guid(v: unknown): string | undefined {
  const s = str(v)?.trim();
  if (!s) return undefined;
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s) ? `{${s.toUpperCase()}}` : s;
}

/** Attribute keys of an element object, in whichever spelling the layout uses. */
function elementAttrs(el: Obj): [string, unknown][] {
  const a = el[ATTRS];
  if (isObj(a)) return Object.entries(a);
  return Object.entries(el).filter(([k]) => k.startsWith('@'));
}

/** Keys that are not child elements: attributes in any spelling, text, and golang-evtx's plain `xmlns`. */
const isMeta = (k: string): boolean => k === ATTRS || k === TEXT || k === 'xmlns' || k.startsWith('@') || k.endsWith('_attributes');

/**
 * UserData flattening, as the parser does it: nested elements joined with `.`, attributes as `elem@attr`,
 * repeated names as `_2`, `_3`. `owner` holds the element (its `name_attributes` sibling, if any).
 */
function flattenElement(prefix: string, name: string, owner: Obj, out: Record<string, string>): void {
  const key = prefix === '' ? name : `${prefix}.${name}`;
  const sep = owner[name + '_attributes'];
  const items = Array.isArray(owner[name]) ? owner[name] as unknown[] : [owner[name]];
  for (const v of items) {
    const attrs = isObj(v) ? elementAttrs(v) : [];
    if (isObj(sep)) attrs.push(...Object.entries(sep));
    for (const [a, x] of attrs) addNumbered(out, `${key}@${a.startsWith('@') ? a.slice(1) : a}`, scalarText(x));
    if (!isObj(v)) {
      // An element with attributes and no text gives no text key (`null` in the separate-attributes layout).
      if (attrs.length === 0 || (v !== null && v !== '')) addNumbered(out, key, scalarText(v));
      continue;
    }
    const kids = Object.keys(v).filter((k) => !isMeta(k));
    if (kids.length > 0) for (const k of kids) flattenElement(key, k, v, out);
    else if (TEXT in v || attrs.length === 0) addNumbered(out, key, scalarText(v[TEXT]));
  }
}

/** One `Data` value (or a list of them): named ones by their Name attribute, the others as param1..N. */
function dataElements(v: unknown, out: Record<string, string>, unnamed: { n: number }): void {
  if (Array.isArray(v)) {
    for (const x of v) dataElements(x, out, unnamed);
    return;
  }
  if (isObj(v)) {
    const a = v[ATTRS];
    const name = str(isObj(a) ? a.Name : undefined) ?? str(v['@Name']) ?? str(v.Name);
    const t = TEXT in v ? v[TEXT] : v.Value;
    if (name) {
      addNumbered(out, name, scalarText(t));
      return;
    }
    if (Array.isArray(t)) {
      for (const x of t) addNumbered(out, 'param' + ++unnamed.n, scalarText(x));
      return;
    }
    addNumbered(out, 'param' + ++unnamed.n, scalarText(t));
    return;
  }
  addNumbered(out, 'param' + ++unnamed.n, scalarText(v));
}

function eventData(ed: Obj): Record<string, string> {
  const out: Record<string, string> = {};
  const unnamed = { n: 0 };
  for (const k in ed) {
    if (isMeta(k)) continue;
    const v = ed[k];
    // Unnamed <Data> elements gather under the key `Data` (named ones are keyed by their Name).
    if (k === 'Data' && (isObj(v) || Array.isArray(v))) dataElements(v, out, unnamed);
    else if (isObj(v) && k !== 'Binary' && !(TEXT in v)) flattenElement('', k, ed, out);
    else addNumbered(out, k, scalarText(isObj(v) ? v[TEXT] : v));
  }
  return out;
}

/** `{"Event": {"System": ..., "EventData" | "UserData" | "ProcessingErrorData": ...}}` (or the Event's content alone). */
export function fromEventXmlJson(o: Obj): SourceRecord | string {
  const ev = isObj(o.Event) ? o.Event : o;
  const sys = ev.System;
  if (!isObj(sys)) return 'event XML JSON: no Event.System object';
  const id = int(text(sys, 'EventID'));
  if (id === undefined) return 'event XML JSON: no System.EventID';
  const time = str(attr(sys, 'TimeCreated', 'SystemTime'));
  if (time === undefined) return 'event XML JSON: no System.TimeCreated SystemTime';
  const channel = str(text(sys, 'Channel')), provider = str(attr(sys, 'Provider', 'Name')), computer = str(text(sys, 'Computer'));
  if (!channel || !provider || !computer) return 'event XML JSON: no Channel, Provider Name or Computer';
  let kind: EventDataKind = 'none';
  let data: Record<string, string> = {};
  let root: string | undefined;
  if (isObj(ev.EventData) || ('EventData' in ev && !isObj(ev.UserData))) {
    kind = 'EventData';
    if (isObj(ev.EventData)) data = eventData(ev.EventData);
  } else if (isObj(ev.UserData)) {
    kind = 'UserData';
    const roots = Object.keys(ev.UserData).filter((k) => !isMeta(k));
    if (roots.length > 0) {
      root = roots[0];
      const r = ev.UserData[root];
      if (isObj(r)) for (const k of Object.keys(r)) if (!isMeta(k)) flattenElement('', k, r, data);
    }
  } else if (isObj(ev.ProcessingErrorData)) {
    kind = 'ProcessingErrorData';
    data = eventData(ev.ProcessingErrorData);
  }
  const rec: SourceRecord = { timestamp: time, channel, provider, computer, event_id: id, event_data: data, event_data_kind: kind };
  if (root !== undefined) rec.user_data_root = root;
  const rid = int(text(sys, 'EventRecordID'));
  if (rid !== undefined) rec.record_id = rid;
  const pg = guid(attr(sys, 'Provider', 'Guid'));
  if (pg) rec.provider_guid = pg;
  const ver = int(text(sys, 'Version')), lv = int(text(sys, 'Level')), task = int(text(sys, 'Task')), op = int(text(sys, 'Opcode'));
  if (ver !== undefined) rec.version = ver;
  if (lv !== undefined) rec.level = lv;
  if (task !== undefined) rec.task = task;
  if (op !== undefined) rec.opcode = op;
  const kw = str(text(sys, 'Keywords'));
  if (kw) rec.keywords = kw.toLowerCase();
  const act = guid(attr(sys, 'Correlation', 'ActivityID')), rel = guid(attr(sys, 'Correlation', 'RelatedActivityID'));
  if (act) rec.activity_id = act;
  if (rel) rec.related_activity_id = rel;
  const pid = int(attr(sys, 'Execution', 'ProcessID')), tid = int(attr(sys, 'Execution', 'ThreadID'));
  if (pid !== undefined) rec.process_id = pid;
  if (tid !== undefined) rec.thread_id = tid;
  const sid = str(attr(sys, 'Security', 'UserID'));
  if (sid) rec.user_sid = sid;
  return rec;
}
