// Export-WinEvents.ps1 JSON: `Computer`, `Provider`, `EventID`, `EventRecordID` (a string), `Channel`,
// `Message`, `EventData` (the raw `<EventData>` XML as a string) and, only with two or more fields, the same
// fields again at top level (ignored: the XML is complete). `TimeGenerated` is UTC written with a 12-hour
// clock and no AM/PM; the export's local time is in the file name (`..._2022-09-26T19262141.json`).
import type { SourceRecord } from '../normalize/source.js';
import { int, keywordsHex, level, str, type Obj } from './adapt.js';
import { eventDataValue, flattenEventXml } from './eventdata_xml.js';
import { setOwn } from '../own.js';

const CORE = new Set(['EventSourceName', 'Provider', 'ProviderGuid', 'Level', 'Keywords', 'Channel', 'Computer', 'TimeCreated',
  'TimeGenerated', 'EventRecordID', 'EventID', 'Message', 'EventData', 'UserData', 'Task', 'Opcode', 'Version', 'ProcessId',
  'ThreadId', 'UserId', 'ActivityId', 'RelatedActivityId', 'Qualifiers']);

let lastName: string | undefined, lastTime: string | undefined;

/** `..._2022-09-26T19262141.json` -> `2022-09-26T19:26:21`. */
export function exportTimeFromName(name: string | undefined): string | undefined {
  if (!name) return undefined;
  // The same name message after message (a file's, a topic's): read once.
  if (name === lastName) return lastTime;
  const m = /(\d{4}-\d\d-\d\d)T(\d\d)(\d\d)(\d\d)\d*\.json/i.exec(name);
  lastName = name;
  lastTime = m ? `${m[1]}T${m[2]}:${m[3]}:${m[4]}` : undefined;
  return lastTime;
}

/** Whether a record's data will not be read (its channel as written, its event ID). */
export type SkipData = (channel: string, id: number) => boolean;

/**
 * `skipData`: a record it says yes to is partial, what clock learning (ingest/normalize/clock.ts) and
 * Normalizer.check read: the `<EventData>` XML is not flattened (the data holds only Sysmon's UtcTime, the
 * data kind is 'none'), and of the optional fields only the export time is set.
 */
export function fromExportWinEvents(o: Obj, fileName?: string, skipData?: SkipData): SourceRecord | string {
  const id = int(o.EventID);
  if (id === undefined) return 'Export-WinEvents: no EventID';
  const time = str(o.TimeGenerated) ?? str(o.TimeCreated);
  if (time === undefined) return 'Export-WinEvents: no TimeGenerated';
  const channel = str(o.Channel), provider = str(o.Provider) ?? str(o.EventSourceName), computer = str(o.Computer);
  if (!channel || !provider || !computer) return 'Export-WinEvents: no Channel, Provider or Computer';
  const xml = str(o.EventData) ?? str(o.UserData);
  let data: Record<string, string> = {};
  let kind: SourceRecord['event_data_kind'] = 'none';
  let root: string | undefined;
  if (xml !== undefined && xml.trim() !== '' && skipData?.(channel, id) === true) {
    const u = provider === 'Microsoft-Windows-Sysmon' ? eventDataValue(xml, 'UtcTime') : undefined;
    if (u !== undefined) data.UtcTime = u;
    const part: SourceRecord = {
      timestamp: time, time_kind: Number(time.slice(11, 13)) > 12 ? 'utc' : 'utc-12h',
      channel, provider, computer, event_id: id, event_data: data, event_data_kind: kind,
    };
    const exp = exportTimeFromName(fileName);
    if (exp) part.export_local_time = exp;
    return part;
  } else if (xml !== undefined && xml.trim() !== '') {
    const f = flattenEventXml(xml);
    data = f.data;
    kind = f.kind;
    root = f.root;
  } else {
    for (const k in o) if (!CORE.has(k) && typeof o[k] === 'string') setOwn(data, k, o[k] as string);
    if (Object.keys(data).length > 0) kind = 'EventData';
  }
  // A 13..23 hour proves a 24-hour clock: the bug is not there.
  const hour = Number(time.slice(11, 13));
  const rec: SourceRecord = {
    timestamp: time, time_kind: hour > 12 ? 'utc' : 'utc-12h',
    channel, provider, computer, event_id: id, event_data: data, event_data_kind: kind,
  };
  const rid = int(o.EventRecordID);
  if (rid !== undefined) rec.record_id = rid;
  const guid = str(o.ProviderGuid);
  if (guid) rec.provider_guid = guid;
  const kw = keywordsHex(o.Keywords);
  if (kw) rec.keywords = kw;
  const lv = level(o.Level);
  if (lv !== undefined) rec.level = lv;
  const task = int(o.Task);
  if (task !== undefined) rec.task = task;
  const op = int(o.Opcode);
  if (op !== undefined) rec.opcode = op;
  const ver = int(o.Version);
  if (ver !== undefined) rec.version = ver;
  const pid = int(o.ProcessId), tid = int(o.ThreadId);
  if (pid !== undefined) rec.process_id = pid;
  if (tid !== undefined) rec.thread_id = tid;
  const sid = str(o.UserId);
  if (sid) rec.user_sid = sid;
  const act = str(o.ActivityId);
  if (act) rec.activity_id = act;
  const msg = str(o.Message);
  if (msg) rec.message = msg;
  if (root) rec.user_data_root = root;
  const exp = exportTimeFromName(fileName);
  if (exp) rec.export_local_time = exp;
  return rec;
}
