// TEST-ONLY converter: renders a corpus EVTX record (reference-dump shape) into each collector JSON shape,
// the way each collector lays the same event out, so tests can check that every shape normalizes to the
// same fields. It is not a collector emulator; its known simplifications:
// - NXLog: EventTime is rendered as local wall time in UTC-4 to the second (normalize with --tz -04:00);
//   records whose data names collide with NXLog's own fields (e.g. System 104 `Channel`) are not renderable
//   (returns undefined); classic "Windows PowerShell" events get a synthesized Message (NXLog ships no
//   parameters for them), built like Windows' message template.
// - Export-WinEvents: TimeGenerated is rendered with the 12-hour bug (hour mod 12, no AM/PM); the test gives
//   the normalizer a Sysmon UtcTime anchor. UserData records with nested or attribute keys are not renderable.
// - Winlogbeat 6: level/keywords/opcode/task as names are not rendered (numbers are not names).
import type { EvtxRecord } from '../../ingest/evtx/record.js';

const NXLOG_OWN = new Set(['EventTime', 'Hostname', 'SourceName', 'ProviderGuid', 'EventID', 'EventType', 'Severity', 'SeverityValue',
  'Category', 'Opcode', 'OpcodeValue', 'RecordNumber', 'ActivityID', 'RelatedActivityID', 'ThreadID', 'ExecutionProcessID', 'Channel',
  'Domain', 'AccountName', 'UserID', 'AccountType', 'Message', 'Keywords', 'Version', 'Task', 'EventReceivedTime', 'SourceModuleName',
  'SourceModuleType', 'Qualifiers', 'host', 'port', 'tags', 'type', '@timestamp', '@version']);

const ms = (t: string): string => t.slice(0, 23) + 'Z';

function userDataWithRoot(r: EvtxRecord): Record<string, string> {
  return { ...r.event_data, xml_name: r.user_data_root ?? 'EventXML' };
}

export function toWinlogbeat6(r: EvtxRecord): Record<string, unknown> {
  const o: Record<string, unknown> = {
    '@timestamp': ms(r.timestamp), '@metadata': { beat: 'winlogbeat', type: 'doc', version: '6.7.0' },
    log_name: r.channel, source_name: r.provider, event_id: r.event_id, computer_name: r.computer,
    record_number: String(r.record_id), type: 'wineventlog', beat: { name: 'WEC', hostname: 'WEC', version: '6.7.0' }, host: { name: 'WEC' },
  };
  if (r.event_data_kind === 'EventData' && Object.keys(r.event_data).length > 0) o.event_data = r.event_data;
  else if (r.event_data_kind !== 'EventData' && r.event_data_kind !== 'none') o.user_data = userDataWithRoot(r);
  if (r.provider_guid) o.provider_guid = r.provider_guid.toLowerCase();
  if (r.process_id !== undefined) o.process_id = r.process_id;
  if (r.thread_id !== undefined) o.thread_id = r.thread_id;
  if (r.activity_id) o.activity_id = r.activity_id;
  if (r.related_activity_id) o.related_activity_id = r.related_activity_id;
  if (r.version !== undefined) o.version = r.version;
  if (r.user_sid) o.user = { identifier: r.user_sid };
  return o;
}

export function toWinlogbeatEcs(r: EvtxRecord): Record<string, unknown> {
  const w: Record<string, unknown> = {
    channel: r.channel, provider_name: r.provider, event_id: String(r.event_id), record_id: String(r.record_id), computer_name: r.computer, api: 'wineventlog',
  };
  if (r.event_data_kind === 'EventData' && Object.keys(r.event_data).length > 0) w.event_data = r.event_data;
  else if (r.event_data_kind !== 'EventData' && r.event_data_kind !== 'none') w.user_data = userDataWithRoot(r);
  if (r.provider_guid) w.provider_guid = r.provider_guid;
  if (r.process_id !== undefined || r.thread_id !== undefined) w.process = { pid: r.process_id, thread: r.thread_id !== undefined ? { id: r.thread_id } : undefined };
  if (r.activity_id) w.activity_id = r.activity_id;
  if (r.related_activity_id) w.related_activity_id = r.related_activity_id;
  if (r.version !== undefined) w.version = r.version;
  if (r.user_sid) w.user = { identifier: r.user_sid };
  return {
    '@timestamp': ms(r.timestamp), agent: { type: 'winlogbeat', version: '8.11.0' }, ecs: { version: '8.0.0' },
    event: { code: String(r.event_id), provider: r.provider, kind: 'event', created: '2024-01-01T00:00:00.000Z' },
    host: { name: r.computer.toLowerCase() }, winlog: w,
  };
}

const pad = (n: number): string => String(n).padStart(2, '0');

function classicMessage(r: EvtxRecord): string | undefined {
  const d = r.event_data;
  const crlf = (s: string | undefined): string => (s ?? '').replace(/\n/g, '\r\n');
  switch (r.event_id) {
    case 800: return `Pipeline execution details for command line: ${crlf(d.param1)}. \r\n\r\nContext Information: \r\n${crlf(d.param2)}\r\n\r\nDetails: \r\n${crlf(d.param3)}`;
    case 400: case 403: return `Engine state is changed from ${d.param2 ?? ''} to ${d.param1 ?? ''}. \r\n\r\nDetails: \r\n${crlf(d.param3)}`;
    case 600: return `Provider "${d.param1 ?? ''}" is ${d.param2 ?? ''}. \r\n\r\nDetails: \r\n${crlf(d.param3)}`;
    default: return undefined;
  }
}

/** NXLog flat JSON with EventTime in UTC-4; undefined when the record cannot be rendered faithfully. */
export function toNxlog(r: EvtxRecord): Record<string, unknown> | undefined {
  const t = new Date(Date.parse(r.timestamp) - 4 * 3600_000);
  const local = `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())} ${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())}`;
  const o: Record<string, unknown> = {
    EventTime: local, Hostname: r.computer, SourceName: r.provider, Channel: r.channel, EventID: r.event_id, RecordNumber: r.record_id,
    EventReceivedTime: local, SourceModuleName: 'eventlog', SourceModuleType: 'im_msvistalog', Severity: 'INFO', SeverityValue: 2,
    '@timestamp': ms(r.timestamp), '@version': '1', tags: ['test'],
  };
  if (r.channel === 'Windows PowerShell') {
    const m = classicMessage(r);
    if (m === undefined) return undefined;
    o.Message = m;
  } else {
    for (const k in r.event_data) {
      if (NXLOG_OWN.has(k)) return undefined;
      o[k] = r.event_data[k];
    }
  }
  if (r.provider_guid) o.ProviderGuid = r.provider_guid;
  if (r.process_id !== undefined) o.ExecutionProcessID = r.process_id;
  if (r.thread_id !== undefined) o.ThreadID = r.thread_id;
  if (r.activity_id) o.ActivityID = r.activity_id;
  if (r.related_activity_id) o.RelatedActivityID = r.related_activity_id;
  if (r.user_sid) o.UserID = r.user_sid;
  if (r.version !== undefined) o.Version = r.version;
  if (r.keywords) o.Keywords = Number(BigInt.asIntN(64, BigInt(r.keywords)));
  return o;
}

const xmlEsc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** `YYYY-MM-DDTHH:MM:SS.mmmZ` written with the 12-hour bug. */
export function twelveHour(iso: string): string {
  const h = Number(iso.slice(11, 13)) % 12;
  return iso.slice(0, 11) + pad(h === 0 ? 12 : h) + iso.slice(13, 23) + 'Z';
}

/** Export-WinEvents object; undefined when the record cannot be rendered faithfully. */
export function toExportWinEvents(r: EvtxRecord): Record<string, unknown> | undefined {
  let xml: string;
  const keys = Object.keys(r.event_data);
  if (r.event_data_kind === 'EventData' || r.event_data_kind === 'none') {
    const unnamed = keys.length > 0 && keys.every((k, i) => k === `param${i + 1}`) && (r.channel === 'Windows PowerShell' || r.channel === 'System');
    if (keys.includes('Binary')) return undefined;
    xml = '<EventData xmlns="http://schemas.microsoft.com/win/2004/08/events/event">' +
      keys.map((k) => (unnamed ? `<Data>${xmlEsc(r.event_data[k])}</Data>` : `<Data Name="${xmlEsc(k)}">${xmlEsc(r.event_data[k])}</Data>`)).join('') + '</EventData>';
    if (unnamed && r.channel === 'System') return undefined; // System params are named in EVTX
  } else {
    if (keys.some((k) => k.includes('.') || k.includes('@') || /_\d+$/.test(k))) return undefined;
    xml = `<UserData><${r.user_data_root ?? 'EventXML'} xmlns="x">` + keys.map((k) => `<${k}>${xmlEsc(r.event_data[k])}</${k}>`).join('') + `</${r.user_data_root ?? 'EventXML'}></UserData>`;
  }
  const o: Record<string, unknown> = {
    EventSourceName: r.provider, Provider: r.provider, Channel: r.channel, Computer: r.computer,
    TimeCreated: twelveHour(ms(r.timestamp)), TimeGenerated: twelveHour(ms(r.timestamp)), EventRecordID: String(r.record_id), EventID: r.event_id,
    Message: '', EventData: xml,
  };
  if (r.provider_guid) o.ProviderGuid = r.provider_guid.toLowerCase();
  if (r.level !== undefined) o.Level = String(r.level);
  if (r.keywords) o.Keywords = r.keywords;
  if (r.task !== undefined) o.Task = r.task;
  if (r.process_id !== undefined) o.ProcessId = r.process_id;
  if (r.thread_id !== undefined) o.ThreadId = r.thread_id;
  if (r.user_sid) o.UserId = r.user_sid;
  if (r.activity_id) o.ActivityId = r.activity_id;
  if (r.version !== undefined) o.Version = r.version;
  if (r.event_data_kind === 'EventData' && keys.length >= 2 && !keys[0].startsWith('param')) for (const k of keys) if (!(k in o)) o[k] = r.event_data[k];
  return o;
}

/** How a writer of the event-XML-as-JSON layout spells attributes and text. */
export type XmlJsonLayout = 'attributes' | 'separate' | 'xmltodict';

/** An element with attributes in the layout's spelling (text may be absent). */
function xmlJsonElement(layout: XmlJsonLayout, owner: Record<string, unknown>, name: string, attrs: Record<string, unknown>, text?: unknown): void {
  const a = Object.fromEntries(Object.entries(attrs).filter(([, v]) => v !== undefined));
  if (Object.keys(a).length === 0) { owner[name] = text ?? null; return; }
  if (layout === 'separate') { owner[`${name}_attributes`] = a; owner[name] = text ?? null; return; }
  const el: Record<string, unknown> = layout === 'attributes' ? { '#attributes': a } : Object.fromEntries(Object.entries(a).map(([k, v]) => ['@' + k, v]));
  if (text !== undefined) el['#text'] = text;
  owner[name] = el;
}

/** Flattened UserData keys (`A.B`, `A@x`) as the nested elements they came from; undefined for repeated names. */
function userDataTree(layout: XmlJsonLayout, data: Record<string, string>): Record<string, unknown> | undefined {
  const root: Record<string, unknown> = {};
  const attrsOf = new Map<Record<string, unknown>, Map<string, Record<string, string>>>();
  for (const [k, v] of Object.entries(data)) {
    if (/_\d+$/.test(k)) return undefined;
    const at = k.indexOf('@');
    const path = (at >= 0 ? k.slice(0, at) : k).split('.');
    let node = root;
    for (const p of path.slice(0, -1)) {
      if (node[p] === undefined || node[p] === null) node[p] = {};
      if (typeof node[p] !== 'object') return undefined;
      node = node[p] as Record<string, unknown>;
    }
    const leaf = path[path.length - 1];
    if (at >= 0) {
      let m = attrsOf.get(node);
      if (!m) attrsOf.set(node, (m = new Map()));
      m.set(leaf, { ...m.get(leaf), [k.slice(at + 1)]: v });
      if (!(leaf in node)) node[leaf] = undefined;
    } else {
      if (node[leaf] !== undefined && typeof node[leaf] === 'object') return undefined;
      node[leaf] = v;
    }
  }
  // Attributes last: an element's own text and its attributes go into one object (or beside it).
  const finish = (node: Record<string, unknown>): void => {
    for (const k of Object.keys(node)) if (node[k] !== null && typeof node[k] === 'object') finish(node[k] as Record<string, unknown>);
    const m = attrsOf.get(node);
    if (!m) return;
    for (const [leaf, attrs] of m) {
      const v = node[leaf];
      if (v !== null && typeof v === 'object') {
        // Attributes of an element that has children.
        if (layout === 'separate') node[`${leaf}_attributes`] = attrs;
        else if (layout === 'attributes') (v as Record<string, unknown>)['#attributes'] = attrs;
        else for (const [a, x] of Object.entries(attrs)) (v as Record<string, unknown>)['@' + a] = x;
        continue;
      }
      delete node[leaf];
      xmlJsonElement(layout, node, leaf, attrs, v);
    }
  };
  finish(root);
  return root;
}

const bareGuid = (g: string | undefined): string | undefined => g?.replace(/^\{|\}$/g, '');

/**
 * The event's XML mirrored as JSON, as the Rust evtx crate's evtx_dump writes it (`attributes`: under
 * `#attributes`; `separate`: --separate-json-attributes) or as xmltodict does (`@Name`, `#text`); undefined
 * when the layout cannot carry the record faithfully (xmltodict writes a single unnamed Data as a bare
 * string, which reads as a Data named "Data"; UserData with repeated element names).
 */
export function toEventXmlJson(r: EvtxRecord, layout: XmlJsonLayout = 'attributes'): Record<string, unknown> | undefined {
  const sys: Record<string, unknown> = {};
  xmlJsonElement(layout, sys, 'Provider', { Name: r.provider, Guid: layout === 'xmltodict' ? r.provider_guid : bareGuid(r.provider_guid), EventSourceName: r.event_source_name });
  xmlJsonElement(layout, sys, 'EventID', { Qualifiers: r.qualifiers }, r.event_id);
  if (r.version !== undefined) sys.Version = r.version;
  if (r.level !== undefined) sys.Level = r.level;
  if (r.task !== undefined) sys.Task = r.task;
  if (r.opcode !== undefined) sys.Opcode = r.opcode;
  if (r.keywords !== undefined) sys.Keywords = r.keywords.toUpperCase().replace('0X', '0x');
  // evtx_dump writes microseconds.
  xmlJsonElement(layout, sys, 'TimeCreated', { SystemTime: layout === 'xmltodict' ? r.timestamp : r.timestamp.slice(0, 26) + 'Z' });
  sys.EventRecordID = layout === 'xmltodict' ? String(r.record_id) : r.record_id;
  xmlJsonElement(layout, sys, 'Correlation', { ActivityID: r.activity_id, RelatedActivityID: r.related_activity_id });
  xmlJsonElement(layout, sys, 'Execution', { ProcessID: r.process_id, ThreadID: r.thread_id });
  sys.Channel = r.channel;
  sys.Computer = r.computer;
  xmlJsonElement(layout, sys, 'Security', { UserID: r.user_sid });
  const ev: Record<string, unknown> = {};
  xmlJsonElement(layout, ev, 'Event', { xmlns: 'http://schemas.microsoft.com/win/2004/08/events/event' });
  const body: Record<string, unknown> = typeof ev.Event === 'object' && ev.Event !== null ? ev.Event as Record<string, unknown> : (ev.Event = {});
  body.System = sys;
  const keys = Object.keys(r.event_data);
  if (r.event_data_kind === 'EventData') {
    const params = keys.filter((k) => /^param\d+$/.test(k));
    const named = keys.filter((k) => !/^param\d+$/.test(k));
    if (keys.length === 0) { body.EventData = null; return ev; }
    const ed: Record<string, unknown> = {};
    if (layout === 'xmltodict') {
      if (params.length === 1 && named.length === 0) return undefined;
      const data: unknown[] = [];
      for (const k of keys) if (k !== 'Binary') data.push(params.includes(k) ? r.event_data[k] : { '@Name': k, '#text': r.event_data[k] === '' ? null : r.event_data[k] });
      if (data.length > 0) ed.Data = data;
    } else {
      for (const k of named) if (k !== 'Binary') ed[k] = r.event_data[k] === '' ? null : r.event_data[k];
      if (params.length > 0) ed.Data = { '#text': params.length === 1 ? r.event_data[params[0]] : params.map((k) => r.event_data[k]) };
    }
    if ('Binary' in r.event_data) ed.Binary = r.event_data.Binary === '' ? null : r.event_data.Binary;
    body.EventData = ed;
  } else if (r.event_data_kind === 'UserData') {
    const tree = userDataTree(layout, r.event_data);
    if (!tree) return undefined;
    const ud: Record<string, unknown> = {};
    xmlJsonElement(layout, ud, r.user_data_root ?? 'EventXML', { xmlns: 'http://manifests.microsoft.com/win/2004/08/windows/eventlog' });
    const root = ud[r.user_data_root ?? 'EventXML'] as Record<string, unknown> | null;
    if (root === null) ud[r.user_data_root ?? 'EventXML'] = tree;
    else Object.assign(root, tree);
    body.UserData = ud;
  } else if (r.event_data_kind === 'ProcessingErrorData') {
    body.ProcessingErrorData = { ...r.event_data };
  }
  return ev;
}
