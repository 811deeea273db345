// A record's bound BinXML tree -> the flat EvtxRecord (System fields, flattened event data), following the
// conventions of ../shared/corpus/README.md. Built straight from the tree: no XML text in between.

import type { XElem, XNode } from './binxml.js';
import type { EventDataKind, EvtxRecord } from './record.js';
import { attrValue, eachElement, hasElements, Scope, textOf } from './resolve.js';
import { addNumbered } from '../own.js';

export class RecordShapeError extends Error {}

/** Finds the root `Event` element (through the record's template instance). */
export function rootElement(nodes: XNode[], scope: Scope): [XElem, Scope] {
  let found: [XElem, Scope] | null = null;
  eachElement(nodes, scope, (el, sc) => {
    if (found === null) found = [el, sc];
  });
  if (found === null) throw new RecordShapeError('record holds no XML element');
  return found;
}

/** `recordNumber` 0 and no `writtenTime`: a remnant carved from slack, whose record header is lost. */
export function buildRecord(nodes: XNode[], scope: Scope, recordNumber: number, writtenTime: string | undefined): EvtxRecord {
  const [event, sc] = rootElement(nodes, scope);
  const rec = {
    record_id: 0,
    record_number: recordNumber,
    written_time: writtenTime,
    timestamp: '',
    channel: '',
    provider: '',
    event_id: 0,
    computer: '',
    event_data: {} as Record<string, string>,
    event_data_kind: 'none' as EventDataKind,
  } as EvtxRecord;
  if (writtenTime === undefined) delete rec.written_time;
  eachElement(event.kids, sc, (el, s) => {
    switch (el.name) {
      case 'System':
        system(el, s, rec);
        break;
      case 'EventData':
        if (rec.event_data_kind === 'none') rec.event_data_kind = 'EventData';
        eventData(el, s, rec.event_data);
        break;
      case 'UserData':
        if (rec.event_data_kind === 'none') rec.event_data_kind = 'UserData';
        eachElement(el.kids, s, (root, rs) => {
          if (rec.user_data_root === undefined) rec.user_data_root = root.name;
          flattenChildren(root, rs, '', rec.event_data);
        });
        break;
      case 'ProcessingErrorData':
        if (rec.event_data_kind === 'none') rec.event_data_kind = 'ProcessingErrorData';
        flattenChildren(el, s, '', rec.event_data);
        break;
    }
  });
  return rec;
}

export function parseNumber(s: string): number | undefined {
  if (s === '') return undefined;
  const n = s.charCodeAt(1) === 0x78 /* x */ ? parseInt(s.slice(2), 16) : Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/** Keywords are always shown as 16 hex digits. */
export function normalizeKeywords(s: string): string {
  if (s.startsWith('0x') || s.startsWith('0X')) return '0x' + s.slice(2).toLowerCase().padStart(16, '0');
  if (/^\d+$/.test(s)) return '0x' + BigInt(s).toString(16).padStart(16, '0');
  return s;
}

const ISO_FRACTION = /^(\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/;

/** Times written as text (forwarded events) get the same 7-digit form as decoded FILETIMEs. */
export function normalizeIsoText(s: string): string {
  if (s.length === 28 && s.charCodeAt(19) === 0x2e) return s;
  const m = ISO_FRACTION.exec(s);
  if (m === null) return s;
  return `${m[1]}.${(m[2] ?? '').padEnd(7, '0').slice(0, 7)}Z`;
}

function system(el: XElem, scope: Scope, rec: EvtxRecord): void {
  eachElement(el.kids, scope, (c, s, pickSub, pickItem) => {
    switch (c.name) {
      case 'Provider':
        for (const a of c.attrs) {
          const v = attrValue(a, s);
          if (v === null) continue;
          if (a.name === 'Name') rec.provider = v;
          else if (a.name === 'Guid') rec.provider_guid = v;
          else if (a.name === 'EventSourceName') rec.event_source_name = v;
        }
        break;
      case 'EventID': {
        rec.event_id = parseNumber(textOf(c, s, pickSub, pickItem)) ?? 0;
        for (const a of c.attrs) {
          if (a.name !== 'Qualifiers') continue;
          const v = attrValue(a, s);
          const q = v === null ? undefined : parseNumber(v);
          if (q !== undefined) rec.qualifiers = q;
        }
        break;
      }
      case 'Version':
      case 'Level':
      case 'Task':
      case 'Opcode': {
        const n = parseNumber(textOf(c, s, pickSub, pickItem));
        if (n !== undefined) {
          if (c.name === 'Version') rec.version = n;
          else if (c.name === 'Level') rec.level = n;
          else if (c.name === 'Task') rec.task = n;
          else rec.opcode = n;
        }
        break;
      }
      case 'Keywords': {
        const t = textOf(c, s, pickSub, pickItem);
        // A typed HexInt64 is shown as 16 digits; text written literally (forwarded events) stays as written.
        if (t !== '') rec.keywords = c.kids.length === 1 && c.kids[0].t === 0 ? t : normalizeKeywords(t);
        break;
      }
      case 'TimeCreated':
        for (const a of c.attrs) {
          if (a.name !== 'SystemTime') continue;
          const v = attrValue(a, s);
          if (v !== null) rec.timestamp = normalizeIsoText(v);
        }
        break;
      case 'EventRecordID':
        rec.record_id = parseNumber(textOf(c, s, pickSub, pickItem)) ?? 0;
        break;
      case 'Correlation':
        for (const a of c.attrs) {
          const v = attrValue(a, s);
          if (v === null) continue;
          if (a.name === 'ActivityID') rec.activity_id = v;
          else if (a.name === 'RelatedActivityID') rec.related_activity_id = v;
        }
        break;
      case 'Execution':
        for (const a of c.attrs) {
          const v = attrValue(a, s);
          const n = v === null ? undefined : parseNumber(v);
          if (n === undefined) continue;
          if (a.name === 'ProcessID') rec.process_id = n;
          else if (a.name === 'ThreadID') rec.thread_id = n;
        }
        break;
      case 'Channel':
        rec.channel = textOf(c, s, pickSub, pickItem);
        break;
      case 'Computer':
        rec.computer = textOf(c, s, pickSub, pickItem);
        break;
      case 'Security':
        for (const a of c.attrs) {
          if (a.name !== 'UserID') continue;
          const v = attrValue(a, s);
          if (v !== null) rec.user_sid = v;
        }
        break;
    }
  });
}

function eventData(el: XElem, scope: Scope, out: Record<string, string>): void {
  let unnamed = 0;
  eachElement(el.kids, scope, (c, s, pickSub, pickItem) => {
    if (c.name === 'Data') {
      let key: string | null = null;
      for (const a of c.attrs) if (a.name === 'Name') key = attrValue(a, s);
      if (key === null || key === '') key = 'param' + ++unnamed;
      addNumbered(out, key, textOf(c, s, pickSub, pickItem));
    } else if (c.name === 'Binary') {
      addNumbered(out, 'Binary', textOf(c, s, pickSub, pickItem));
    } else {
      flattenOne(c, s, pickSub, pickItem, '', out);
    }
  });
}

function flattenChildren(el: XElem, scope: Scope, prefix: string, out: Record<string, string>): void {
  eachElement(el.kids, scope, (c, s, pickSub, pickItem) => flattenOne(c, s, pickSub, pickItem, prefix, out));
}

function flattenOne(c: XElem, s: Scope, pickSub: number, pickItem: number, prefix: string, out: Record<string, string>): void {
  const key = prefix === '' ? c.name : prefix + '.' + c.name;
  for (const a of c.attrs) {
    const v = attrValue(a, s);
    if (v !== null) addNumbered(out, key + '@' + a.name, v);
  }
  if (hasElements(c, s)) flattenChildren(c, s, key, out);
  else {
    const t = textOf(c, s, pickSub, pickItem);
    if (t !== '' || c.attrs.length === 0) addNumbered(out, key, t);
  }
}
