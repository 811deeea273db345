// Winlogbeat 6.x (pre-ECS) documents: `log_name`, `source_name`, `event_id`, `computer_name`,
// `record_number` (a string), `event_data{}`, `user_data{}`, `user{}`, `@timestamp` (event time, UTC, ms).
import type { SourceRecord } from '../normalize/source.js';
import { int, isObj, level, str, stringMap, type Obj } from './adapt.js';

export function fromWinlogbeat6(o: Obj): SourceRecord | string {
  const id = int(o.event_id);
  if (id === undefined) return 'Winlogbeat 6: no event_id';
  const time = str(o['@timestamp']);
  if (time === undefined) return 'Winlogbeat 6: no @timestamp';
  const channel = str(o.log_name), provider = str(o.source_name), computer = str(o.computer_name);
  if (!channel || !provider || !computer) return 'Winlogbeat 6: no log_name, source_name or computer_name';
  const ud = isObj(o.user_data) ? o.user_data : undefined;
  const hasEd = isObj(o.event_data);
  const data = hasEd ? stringMap(o.event_data) : ud ? stringMap(ud) : {};
  let root: string | undefined;
  if (!hasEd && ud) {
    root = str(ud.xml_name);
    delete data.xml_name;
  }
  const rec: SourceRecord = {
    timestamp: time, channel, provider, computer, event_id: id,
    event_data: data, event_data_kind: hasEd ? 'EventData' : ud ? 'UserData' : 'none',
  };
  const rid = int(o.record_number);
  if (rid !== undefined) rec.record_id = rid;
  const guid = str(o.provider_guid);
  if (guid) rec.provider_guid = guid;
  const pid = int(o.process_id), tid = int(o.thread_id);
  if (pid !== undefined) rec.process_id = pid;
  if (tid !== undefined) rec.thread_id = tid;
  const act = str(o.activity_id), rel = str(o.related_activity_id);
  if (act) rec.activity_id = act;
  if (rel) rec.related_activity_id = rel;
  if (isObj(o.user)) {
    const sid = str(o.user.identifier);
    if (sid) rec.user_sid = sid;
    const n = str(o.user.name), d = str(o.user.domain);
    if (n) rec.user_name = n;
    if (d) rec.user_domain = d;
  }
  if (Array.isArray(o.keywords)) rec.keywords = o.keywords.filter((k): k is string => typeof k === 'string');
  const op = str(o.opcode), task = str(o.task);
  if (op) rec.opcode = op;
  if (task) rec.task = task;
  const ver = int(o.version);
  if (ver !== undefined) rec.version = ver;
  const lv = level(o.level);
  if (lv !== undefined) rec.level = lv;
  const msg = str(o.message);
  if (msg) rec.message = msg;
  if (root) rec.user_data_root = root;
  return rec;
}
