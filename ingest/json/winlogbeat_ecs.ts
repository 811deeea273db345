// Winlogbeat 7.x / 8.x ECS documents (`winlog.*`, `event.code`, `@timestamp`), as Winlogbeat's field
// reference documents them. PowerShell/Security parsing done by Elasticsearch ingest pipelines is ignored:
// we rebuild it from winlog.event_data, which is what a Kafka consumer sees anyway.
import type { SourceRecord } from '../normalize/source.js';
import { int, isObj, level, str, stringMap, type Obj } from './adapt.js';

export function fromWinlogbeatEcs(o: Obj): SourceRecord | string {
  const w = o.winlog;
  if (!isObj(w)) return 'Winlogbeat ECS: no winlog object';
  const ev = isObj(o.event) ? o.event : {};
  const id = int(w.event_id) ?? int(ev.code);
  if (id === undefined) return 'Winlogbeat ECS: no winlog.event_id / event.code';
  const time = str(w.time_created) ?? str(o['@timestamp']);
  if (time === undefined) return 'Winlogbeat ECS: no @timestamp';
  const channel = str(w.channel);
  const provider = str(w.provider_name) ?? str(ev.provider);
  const computer = str(w.computer_name) ?? (isObj(o.host) ? str(o.host.name) : undefined);
  if (!channel || !provider || !computer) return 'Winlogbeat ECS: no channel, provider or computer name';
  const userData = isObj(w.user_data) ? w.user_data : undefined;
  const hasEventData = isObj(w.event_data);
  const data = hasEventData ? stringMap(w.event_data) : userData ? stringMap(userData) : {};
  let root: string | undefined;
  if (!hasEventData && userData) {
    root = str(userData.xml_name);
    delete data.xml_name;
  }
  const rec: SourceRecord = {
    timestamp: time,
    channel, provider, computer, event_id: id,
    event_data: data,
    event_data_kind: hasEventData ? 'EventData' : userData ? 'UserData' : 'none',
  };
  const rid = int(w.record_id);
  if (rid !== undefined) rec.record_id = rid;
  const guid = str(w.provider_guid);
  if (guid) rec.provider_guid = guid;
  const p = isObj(w.process) ? w.process : undefined;
  const pid = p ? int(p.pid) : undefined;
  if (pid !== undefined) rec.process_id = pid;
  const tid = p && isObj(p.thread) ? int(p.thread.id) : undefined;
  if (tid !== undefined) rec.thread_id = tid;
  const act = str(w.activity_id);
  if (act) rec.activity_id = act;
  const rel = str(w.related_activity_id);
  if (rel) rec.related_activity_id = rel;
  if (isObj(w.user)) {
    const sid = str(w.user.identifier);
    if (sid) rec.user_sid = sid;
    const n = str(w.user.name), d = str(w.user.domain);
    if (n) rec.user_name = n;
    if (d) rec.user_domain = d;
  }
  if (Array.isArray(w.keywords)) rec.keywords = w.keywords.filter((k): k is string => typeof k === 'string');
  const op = str(w.opcode);
  if (op) rec.opcode = op;
  const task = str(w.task);
  if (task) rec.task = task;
  const ver = int(w.version);
  if (ver !== undefined) rec.version = ver;
  const lv = isObj(o.log) ? level(o.log.level) : undefined;
  if (lv !== undefined) rec.level = lv;
  const msg = str(o.message);
  if (msg) rec.message = msg;
  const outcome = str(ev.outcome);
  if (outcome === 'success' || outcome === 'failure') rec.audit = outcome;
  const ing = str(ev.ingested) ?? str(ev.created);
  if (ing) rec.ingested = ing;
  if (root) rec.user_data_root = root;
  return rec;
}
