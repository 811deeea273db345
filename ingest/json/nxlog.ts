// NXLog `im_msvistalog` flat JSON (often via Logstash): NXLog's own fields plus every EventData field at the
// top level under its XML name. `EventTime` is the collector's local time with no zone, to the second.
import type { SourceRecord } from '../normalize/source.js';
import { int, keywordsHex, str, type Obj } from './adapt.js';
import { setOwn } from '../own.js';

/** Fields NXLog (and Logstash on the way) add; everything else is event data. */
const NXLOG_FIELDS = new Set([
  'EventTime', 'EventTimeWritten', 'Hostname', 'SourceName', 'ProviderGuid', 'EventID', 'EventType', 'Severity',
  'SeverityValue', 'Category', 'Opcode', 'OpcodeValue', 'RecordNumber', 'ActivityID', 'RelatedActivityID', 'ThreadID',
  'ExecutionProcessID', 'Channel', 'Domain', 'AccountName', 'UserID', 'AccountType', 'Message', 'Keywords', 'Version',
  'Task', 'EventReceivedTime', 'SourceModuleName', 'SourceModuleType', 'Qualifiers', 'EventTypeOrignal', 'EventTypeOriginal',
  '@timestamp', '@version', 'host', 'port', 'tags', 'type', 'ERROR_EVT_UNRESOLVED',
]);

const SEVERITY: ReadonlyMap<string, string> = new Map([['DEBUG', 'verbose'], ['INFO', 'information'], ['WARNING', 'warning'], ['ERROR', 'error'], ['CRITICAL', 'critical']]);

export function fromNxlog(o: Obj): SourceRecord | string {
  const id = int(o.EventID);
  if (id === undefined) return 'NXLog: no EventID';
  const time = str(o.EventTime);
  if (time === undefined) return 'NXLog: no EventTime';
  const channel = str(o.Channel), provider = str(o.SourceName), computer = str(o.Hostname);
  if (!channel || !provider || !computer) return 'NXLog: no Channel, SourceName or Hostname';
  const data: Record<string, string> = {};
  for (const k in o) {
    if (NXLOG_FIELDS.has(k)) continue;
    const v = o[k];
    if (v === null || v === undefined) continue;
    setOwn(data, k, typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
  // NXLog renames an EventData field that collides with its own EventType.
  const orig = str(o.EventTypeOrignal) ?? str(o.EventTypeOriginal);
  if (orig !== undefined) data.EventType = orig;
  const zoned = /(Z|[+-]\d\d:?\d\d)$/.test(time);
  const rec: SourceRecord = {
    timestamp: time, time_kind: zoned ? 'utc' : 'local',
    channel, provider, computer, event_id: id,
    event_data: data, event_data_kind: Object.keys(data).length > 0 ? 'EventData' : 'none',
  };
  const rid = int(o.RecordNumber);
  if (rid !== undefined) rec.record_id = rid;
  const guid = str(o.ProviderGuid);
  if (guid) rec.provider_guid = guid;
  const pid = int(o.ExecutionProcessID), tid = int(o.ThreadID);
  if (pid !== undefined) rec.process_id = pid;
  if (tid !== undefined) rec.thread_id = tid;
  const act = str(o.ActivityID), rel = str(o.RelatedActivityID);
  if (act) rec.activity_id = act;
  if (rel) rec.related_activity_id = rel;
  const sid = str(o.UserID);
  if (sid) {
    rec.user_sid = sid;
    const n = str(o.AccountName), d = str(o.Domain);
    if (n) rec.user_name = n;
    if (d) rec.user_domain = d;
  }
  const kw = keywordsHex(o.Keywords);
  if (kw) rec.keywords = kw;
  const op = int(o.OpcodeValue) ?? str(o.Opcode);
  if (op !== undefined) rec.opcode = op;
  const task = int(o.Task) ?? str(o.Category);
  if (task !== undefined) rec.task = task;
  const ver = int(o.Version);
  if (ver !== undefined) rec.version = ver;
  const sev = str(o.Severity);
  const lv = sev ? SEVERITY.get(sev) : undefined;
  if (lv !== undefined) rec.level = lv;
  const msg = str(o.Message);
  if (msg) rec.message = msg;
  const et = str(o.EventType);
  if (et === 'AUDIT_SUCCESS') rec.audit = 'success';
  else if (et === 'AUDIT_FAILURE') rec.audit = 'failure';
  const ing = str(o['@timestamp']);
  if (ing && /Z$/.test(ing)) rec.ingested = ing;
  return rec;
}
