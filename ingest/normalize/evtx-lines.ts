// Normalized events written as JSON lines straight from a compiled EVTX template's replayed fields, with
// no record object, no event object and no JSON.stringify: for the records whose normalization is the
// common part only (extractsNothing: no channel-specific field), most of a System or application log.
// No detector reads such events (detectors/uses.ts keys on extracted fields, or on channels and IDs that
// are extracted). The bytes equal JSON.stringify of the event Normalizer.normalize() gives; a test compares
// the two over every corpus record. Anything unusual (a time that is not plain UTC, a numeric data name,
// a missing name, a value that fails to decode) gives false, and the record takes the object path, which
// decides what becomes of it.
import type { ChunkContext } from '../evtx/binxml.js';
import { dataIndex, dataLength, dataLiteral, dataName, Field, fieldNumber, fieldText, replayFields, type Plan } from '../evtx/compile.js';
import { byte, bytes, jsonPos, jsonRewind, num, raw, str, value } from '../evtx/jsonout.js';
import { filetime, scalar, VT_ANSI, VT_HEXINT64, VT_STRING } from '../evtx/values.js';
import { SCHEMA_VERSION } from '../../schemas/values.js';
import { canonicalChannel, extractsNothing } from './extract.js';
import { auditOutcome, ECS_VERSION, type Normalizer } from './normalize.js';
import { clean, isIsoMillis, isoUtcToMillisString, LEVELS, utcMillis } from './values.js';

const json = (s: string): string => JSON.stringify(s);
const NEVER_WRITTEN = '1601-01-01T00:00:00.0000000Z';

const K_TIMESTAMP = bytes('{"@timestamp":');
const K_EVENT = bytes(`,"ecs":{"version":${json(ECS_VERSION)}},"event":{"code":"`);
const K_PROVIDER = bytes('","provider":');
const K_CREATED = bytes(',"created":');
const K_SUCCESS = bytes(',"outcome":"success"');
const K_FAILURE = bytes(',"outcome":"failure"');
const K_HOST = bytes('},"host":{"name":');
const K_HOSTNAME = bytes(',"hostname":');
const K_LOG = bytes('},"log":{"file":{"path":');
const K_OFFSET = bytes('},"offset":');
const K_LEVEL_NAME = bytes(',"level":');
const K_CHANNEL = bytes('},"winlog":{"channel":');
const K_COMPUTER = bytes(',"computer_name":');
const K_PROVIDER_NAME = bytes(',"provider_name":');
const K_EVENT_ID = bytes(',"event_id":');
const K_TIME_CREATED = bytes(',"time_created":');
const K_RECORD_ID = bytes(',"record_id":');
const K_GUID = bytes(',"provider_guid":');
const K_PROCESS = bytes(',"process":{');
const K_PID = bytes('"pid":');
const K_THREAD = bytes('"thread":{"id":');
const K_ACTIVITY = bytes(',"activity_id":');
const K_RELATED = bytes(',"related_activity_id":');
const K_USER = bytes(',"user":{"identifier":');
const K_KEYWORDS = bytes(',"keywords":');
const K_LEVEL = bytes(',"level":');
const K_OPCODE = bytes(',"opcode":');
const K_TASK = bytes(',"task":');
const K_VERSION = bytes(',"version":');
const K_EVENT_DATA = bytes(',"event_data":{');
const K_CHUNK = bytes(',"chunk":');
const K_PROV_OFFSET = bytes(',"offset":');
const K_RECOVERED_END = bytes(',"recovered":true}}}');
const K_END = bytes('}}}');

/** Whether clean() could change the value `scalar` gives for these bytes (else it is written from them as is). */
function mayClean(b: Buffer, vt: number, off: number, size: number): boolean {
  let c: number;
  if (vt === VT_STRING) {
    if (size < 2) return true;
    c = b[off] | (b[off + 1] << 8);
  } else if (vt === VT_ANSI) {
    if (size < 1) return true;
    c = b[off];
  } else {
    // Numbers, GUIDs, SIDs, times, hex and binary render as non-empty text that clean() keeps.
    return size === 0 || vt > VT_HEXINT64;
  }
  // Empty, `-`, `%%N`, or leading whitespace: the cases clean() looks at.
  return c === 0 || c === 0x2d || c === 0x25 || c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** An event data name JS would order before the others in an object (an array index): the object path decides. */
function indexLike(name: string): boolean {
  const c = name.charCodeAt(0);
  return c >= 0x30 && c <= 0x39;
}

/** Writes the normalized lines of one EVTX file's plain records (not an archive member's). */
export class EvtxLines {
  private readonly ingestedJson: Uint8Array;
  private readonly pathJson: Uint8Array;
  private readonly provenance: Uint8Array;

  constructor(private readonly norm: Normalizer, file: string) {
    this.ingestedJson = bytes(`,"kind":"event","ingested":${json(norm.ingestedAt)}`);
    this.pathJson = bytes(json(file));
    this.provenance = bytes(`},"hoptrail":{"schema_version":${json(SCHEMA_VERSION)},"provenance":{"format":"evtx","file":${json(file)}`);
  }

  /**
   * Writes the record's normalized event as one JSON line (no newline) to the JSON writer (jsonout) and
   * gives where it starts; -1 when the record takes the object path (nothing written then).
   * `offset`: the record's offset in the file.
   */
  write(plan: Plan, ctx: ChunkContext, count: number, writtenLo: number, writtenHi: number, recovered: boolean, chunk: number, offset: number): number {
    const start = jsonPos();
    try {
      return this.tryWrite(plan, ctx, count, writtenLo, writtenHi, recovered, chunk, offset) ? start : -1;
    } catch {
      // A value that does not decode: the object path reports it as it always does.
      jsonRewind(start);
      return -1;
    }
  }

  private tryWrite(plan: Plan, ctx: ChunkContext, count: number, writtenLo: number, writtenHi: number, recovered: boolean, chunk: number, offset: number): boolean {
    if (!replayFields(plan, ctx, count)) return false;
    // Normalizer.normalize()'s checks, before anything is written: on any doubt, its own path decides.
    const id = fieldNumber(Field.EventId) ?? 0;
    if (!Number.isInteger(id) || id < 0 || id > 65535) return false;
    const rawChannel = fieldText(ctx, Field.Channel);
    if (!rawChannel) return false;
    const channel = canonicalChannel(rawChannel);
    if (!extractsNothing(channel, id)) return false;
    const provider = fieldText(ctx, Field.Provider);
    if (!provider) return false;
    const computer = (fieldText(ctx, Field.Computer) ?? '').trim();
    if (!computer) return false;
    const created = fieldText(ctx, Field.TimeCreated) ?? '';
    const ts = isoUtcToMillisString(created);
    if (ts === undefined || !isIsoMillis(ts)) return false;
    const n = dataLength();
    for (let i = 0; i < n; i++) if (indexLike(dataName(i))) return false;
    const host = this.norm.hostNames(computer);
    const written = filetime(writtenLo, writtenHi);
    const writtenMs = written !== NEVER_WRITTEN ? utcMillis(written) : undefined;
    const keywords = fieldText(ctx, Field.Keywords);
    const level = fieldNumber(Field.Level);

    raw(K_TIMESTAMP);
    str(ts);
    raw(K_EVENT);
    num(id);
    raw(K_PROVIDER);
    str(provider);
    raw(this.ingestedJson);
    if (writtenMs !== undefined) {
      raw(K_CREATED);
      str(writtenMs);
    }
    const outcome = auditOutcome(keywords);
    if (outcome !== undefined) raw(outcome === 'success' ? K_SUCCESS : K_FAILURE);
    raw(K_HOST);
    str(host.name);
    raw(K_HOSTNAME);
    str(host.hostname);
    raw(K_LOG);
    raw(this.pathJson);
    raw(K_OFFSET);
    num(offset);
    const levelName = level !== undefined ? LEVELS[level] : undefined;
    if (levelName !== undefined) {
      raw(K_LEVEL_NAME);
      str(levelName);
    }
    raw(K_CHANNEL);
    str(channel);
    raw(K_COMPUTER);
    str(computer);
    raw(K_PROVIDER_NAME);
    str(provider);
    raw(K_EVENT_ID);
    num(id);
    raw(K_TIME_CREATED);
    str(created);
    const recordId = fieldNumber(Field.RecordId) ?? 0;
    if (Number.isSafeInteger(recordId) && recordId >= 0) {
      raw(K_RECORD_ID);
      num(recordId);
    }
    const guid = fieldText(ctx, Field.ProviderGuid);
    if (guid) {
      raw(K_GUID);
      str(guid.toUpperCase());
    }
    const pid = fieldNumber(Field.ProcessId), tid = fieldNumber(Field.ThreadId);
    if (pid !== undefined || tid !== undefined) {
      raw(K_PROCESS);
      if (pid !== undefined) {
        raw(K_PID);
        num(pid);
      }
      if (tid !== undefined) {
        if (pid !== undefined) byte(0x2c);
        raw(K_THREAD);
        num(tid);
        byte(0x7d);
      }
      byte(0x7d);
    }
    const activity = fieldText(ctx, Field.ActivityId);
    if (activity) {
      raw(K_ACTIVITY);
      str(activity.toUpperCase());
    }
    const related = fieldText(ctx, Field.RelatedActivityId);
    if (related) {
      raw(K_RELATED);
      str(related.toUpperCase());
    }
    const sid = fieldText(ctx, Field.UserSid);
    if (sid) {
      raw(K_USER);
      str(sid);
      byte(0x7d);
    }
    if (keywords) {
      raw(K_KEYWORDS);
      str(keywords);
    }
    if (level !== undefined) {
      raw(K_LEVEL);
      num(level);
    }
    this.number(K_OPCODE, Field.Opcode);
    this.number(K_TASK, Field.Task);
    this.number(K_VERSION, Field.Version);
    this.eventData(ctx, n);
    raw(this.provenance);
    raw(K_CHUNK);
    num(chunk);
    raw(K_PROV_OFFSET);
    num(offset);
    raw(recovered ? K_RECOVERED_END : K_END);
    return true;
  }

  /** A numeric System field, when set. */
  private number(key: Uint8Array, f: Field): void {
    const v = fieldNumber(f);
    if (v === undefined) return;
    raw(key);
    num(v);
  }

  /** The event data as cleanEventData keeps it (none at all when every value is dropped). */
  private eventData(ctx: ChunkContext, n: number): void {
    const b = ctx.b;
    let open = false;
    for (let i = 0; i < n; i++) {
      const idx = dataIndex(i);
      let text: string | undefined;
      if (idx < 0) {
        text = clean(dataLiteral(i));
        if (text === undefined) continue;
      } else {
        const vt = ctx.vt[idx], off = ctx.voff[idx], size = ctx.vsize[idx];
        if (mayClean(b, vt, off, size)) {
          text = clean(scalar(b, vt, off, size));
          if (text === undefined) continue;
        }
      }
      if (!open) raw(K_EVENT_DATA);
      else byte(0x2c);
      open = true;
      str(dataName(i));
      byte(0x3a);
      if (text !== undefined) str(text);
      else value(b, ctx.vt[idx], ctx.voff[idx], ctx.vsize[idx]);
    }
    if (open) byte(0x7d);
  }
}
