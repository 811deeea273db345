// Normalized events written as JSON lines straight from a compiled EVTX template's replayed fields, with
// no record object, no event object and no JSON.stringify: for the records whose normalization is the
// common part only (extractsNothing: no channel-specific field), most of a System or application log.
// No detector reads such events (detectors/uses.ts keys on extracted fields, or on channels and IDs that
// are extracted). The bytes equal JSON.stringify of the event Normalizer.normalize() gives; a test compares
// the two over every corpus record. Anything unusual (a time that is not plain UTC, a numeric data name,
// a missing name, a value that fails to decode) gives false, and the record takes the object path, which
// decides what becomes of it.
import type { ChunkContext } from '../evtx/binxml.js';
import { dataIndex, dataLength, dataLiteral, dataName, dataNameJson, Field, fieldIndex, fieldNumber, fieldText, replayFields, type Plan } from '../evtx/compile.js';
import { byte, bytes, filetimeMillis, filetimeValue, jsonPos, jsonRewind, num, raw, str, value } from '../evtx/jsonout.js';
import { filetime, scalar, u32, VT_ANSI, VT_FILETIME, VT_HEXINT64, VT_STRING } from '../evtx/values.js';
import { SCHEMA_VERSION } from '../../schemas/values.js';
import { canonicalChannel, extractsNothing } from './extract.js';
import { auditOutcome, ECS_VERSION, type Normalizer } from './normalize.js';
import { clean, isIsoMillis, isoUtcToMillisString, LEVELS, utcMillis } from './values.js';

const json = (s: string): string => JSON.stringify(s);

/** Distinct strings a memo keeps the JSON bytes of (past it, the others are written each time). */
const MEMO_MAX = 256;

/** The JSON bytes of strings written in one place: providers, channels, computers, GUIDs repeat record after record. */
class Memo {
  private readonly m = new Map<string, Uint8Array>();
  write(s: string): void {
    let b = this.m.get(s);
    if (b === undefined) {
      if (this.m.size >= MEMO_MAX) return str(s);
      b = bytes(json(s));
      this.m.set(s, b);
    }
    raw(b);
  }
}

/** Host names by computer name (as found, trimmed), as JSON: `,"hostname":` and what follows it included. */
interface HostJson { short: boolean; nameText: string; name: Uint8Array; rest: Uint8Array }

const K_TIMESTAMP = bytes('{"@timestamp":');
const K_EVENT = bytes(`,"ecs":{"version":${json(ECS_VERSION)}},"event":{"code":"`);
const K_PROVIDER = bytes('","provider":');
const K_CREATED = bytes(',"created":');
const K_SUCCESS = bytes(',"outcome":"success"');
const K_FAILURE = bytes(',"outcome":"failure"');
const K_HOST = bytes('},"host":{"name":');
const K_LOG = bytes('},"log":{"file":{"path":');
const K_OFFSET = bytes('},"offset":');
const LEVEL_NAMES = new Map(Object.entries(LEVELS).map(([k, v]) => [Number(k), bytes(`,"level":${json(v)}`)]));
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
  private readonly providers = new Memo();
  private readonly channels = new Memo();
  private readonly computers = new Memo();
  private readonly guids = new Memo();
  private readonly keywords = new Memo();
  private readonly sids = new Memo();
  private readonly hosts = new Map<string, HostJson>();

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
    // The time: a FILETIME (the usual) is written from its ticks; other text as normalize() reads it.
    const b = ctx.b;
    const ti = fieldIndex(Field.TimeCreated);
    let tLo = 0, tHi = -1;
    if (ti >= 0 && ctx.vt[ti] === VT_FILETIME && ctx.vsize[ti] === 8) {
      tLo = u32(b, ctx.voff[ti]);
      tHi = u32(b, ctx.voff[ti] + 4);
    }
    let timeCreated = '', ts = '';
    if (!(tHi >= 0 && tHi < 0x20000000)) {
      timeCreated = fieldText(ctx, Field.TimeCreated) ?? '';
      ts = isoUtcToMillisString(timeCreated) ?? '';
      if (!isIsoMillis(ts)) return false;
      tHi = -1;
    }
    const n = dataLength();
    for (let i = 0; i < n; i++) if (dataNameJson(i) === undefined ? false : indexLike(dataName(i))) return false;
    const host = this.host(computer);
    const keywords = fieldText(ctx, Field.Keywords);
    const level = fieldNumber(Field.Level);

    raw(K_TIMESTAMP);
    if (tHi >= 0) filetimeMillis(tLo, tHi);
    else str(ts);
    raw(K_EVENT);
    num(id);
    raw(K_PROVIDER);
    this.providers.write(provider);
    raw(this.ingestedJson);
    this.created(writtenLo, writtenHi);
    const outcome = auditOutcome(keywords);
    if (outcome !== undefined) raw(outcome === 'success' ? K_SUCCESS : K_FAILURE);
    raw(K_HOST);
    raw(host.name);
    raw(host.rest);
    raw(K_LOG);
    raw(this.pathJson);
    raw(K_OFFSET);
    num(offset);
    const levelName = level !== undefined ? LEVEL_NAMES.get(level) : undefined;
    if (levelName !== undefined) raw(levelName);
    raw(K_CHANNEL);
    this.channels.write(channel);
    raw(K_COMPUTER);
    this.computers.write(computer);
    raw(K_PROVIDER_NAME);
    this.providers.write(provider);
    raw(K_EVENT_ID);
    num(id);
    raw(K_TIME_CREATED);
    if (tHi >= 0) filetimeValue(tLo, tHi);
    else str(timeCreated);
    const recordId = fieldNumber(Field.RecordId) ?? 0;
    if (Number.isSafeInteger(recordId) && recordId >= 0) {
      raw(K_RECORD_ID);
      num(recordId);
    }
    const guid = fieldText(ctx, Field.ProviderGuid);
    if (guid) {
      raw(K_GUID);
      this.guids.write(guid.toUpperCase());
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
      this.sids.write(sid);
      byte(0x7d);
    }
    if (keywords) {
      raw(K_KEYWORDS);
      this.keywords.write(keywords);
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

  /** event.created from the record header's FILETIME: none when it was never set (1601) or has no four-digit year. */
  private created(lo: number, hi: number): void {
    if (lo === 0 && hi === 0) return;
    const at = jsonPos();
    raw(K_CREATED);
    if (filetimeMillis(lo, hi)) return;
    jsonRewind(at);
    const ms = utcMillis(filetime(lo, hi));
    if (ms === undefined) return;
    raw(K_CREATED);
    str(ms);
  }

  /** ECS host names of a computer name, as JSON; a short name asks the normalizer each time (what it knows may grow). */
  private host(computer: string): HostJson {
    let h = this.hosts.get(computer);
    if (h !== undefined && !h.short) return h;
    const { name, hostname } = this.norm.hostNames(computer);
    if (h !== undefined && name === h.nameText) return h;
    h = { short: !computer.includes('.'), nameText: name, name: bytes(json(name)), rest: bytes(`,"hostname":${json(hostname)}`) };
    if (this.hosts.size < MEMO_MAX) this.hosts.set(computer, h);
    return h;
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
      const key = dataNameJson(i);
      if (key !== undefined) raw(key);
      else {
        str(dataName(i));
        byte(0x3a);
      }
      if (text !== undefined) str(text);
      else value(b, ctx.vt[idx], ctx.voff[idx], ctx.vsize[idx]);
    }
    if (open) byte(0x7d);
  }
}
