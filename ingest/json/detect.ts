// Which collector wrote this object: decided per object from a few marker fields (cheap key checks).
import type { InputFormat } from '../../schemas/event.js';
import type { SourceRecord } from '../normalize/source.js';
import { isObj, type Obj } from './adapt.js';
import { fromEventXmlJson, fromHoptrailDump } from './evtx_json.js';
import { fromExportWinEvents, type SkipData } from './export_winevents.js';
import { fromNxlog } from './nxlog.js';
import { fromWinlogbeat6 } from './winlogbeat6.js';
import { fromWinlogbeatEcs } from './winlogbeat_ecs.js';

export type JsonFormat = Exclude<InputFormat, 'evtx'>;
export const JSON_FORMATS: readonly JsonFormat[] = ['winlogbeat-ecs', 'winlogbeat6', 'nxlog', 'export-winevents', 'hoptrail-dump', 'event-xml-json'];

/** The JSON shape a forced --input-format asks for: `evtx` asks none (an archive's JSON members are detected). */
export function jsonFormat(f: InputFormat | undefined): JsonFormat | undefined {
  return f === 'evtx' ? undefined : f;
}

export function detectFormat(o: Obj): JsonFormat | undefined {
  if (isObj(o.winlog)) return 'winlogbeat-ecs';
  if ('log_name' in o && 'event_id' in o) return 'winlogbeat6';
  if ('EventID' in o) {
    if ('EventTime' in o || 'SourceModuleType' in o || 'SourceName' in o || 'Hostname' in o) return 'nxlog';
    if ('Computer' in o || 'EventRecordID' in o || 'TimeGenerated' in o || 'TimeCreated' in o) return 'export-winevents';
  }
  // EVTX records a parser already turned into JSON: the event's XML mirrored, or hoptrail dump's flat lines.
  if (isObj(o.Event) ? isObj(o.Event.System) : isObj(o.System)) return 'event-xml-json';
  if ('event_id' in o && 'channel' in o && 'provider' in o && 'computer' in o) return 'hoptrail-dump';
  return undefined;
}

/**
 * Adapt one parsed JSON value; a string is the reason it cannot be. `skipData`: Export-WinEvents' XML is
 * not flattened for a record it says yes to (fromExportWinEvents).
 */
export function adapt(v: unknown, format: JsonFormat | undefined, fileName?: string, skipData?: SkipData): { format: JsonFormat; record: SourceRecord } | { format?: JsonFormat; reason: string } {
  if (!isObj(v)) return { reason: `not a JSON object (${Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v})` };
  const f = format ?? detectFormat(v);
  if (f === undefined) return { reason: 'unknown shape: not Winlogbeat 6/7/8, NXLog, Export-WinEvents or EVTX-dump JSON' };
  let r: SourceRecord | string;
  try {
    r = f === 'winlogbeat-ecs' ? fromWinlogbeatEcs(v) : f === 'winlogbeat6' ? fromWinlogbeat6(v) : f === 'nxlog' ? fromNxlog(v)
      : f === 'export-winevents' ? fromExportWinEvents(v, fileName, skipData) : f === 'hoptrail-dump' ? fromHoptrailDump(v) : fromEventXmlJson(v);
  } catch (e) {
    // Hostile shapes (data nested thousands deep overflows the flatteners' recursion) are one reject, not
    // the loss of the file or the stream's batch.
    return { format: f, reason: `cannot read this object: ${(e as Error).message}` };
  }
  return typeof r === 'string' ? { format: f, reason: r } : { format: f, record: r };
}
