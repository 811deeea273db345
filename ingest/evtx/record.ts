// The parsed shape of one EVTX record. Field names and value conventions match the shared reference dumps
// (../shared/corpus/README.md), so `hoptrail dump` output compares with them directly.

export type EventDataKind = 'EventData' | 'UserData' | 'ProcessingErrorData' | 'none';

export interface EvtxRecord {
  /** System/EventRecordID. */
  record_id: number;
  /** The record header's number (can differ from record_id). */
  record_number: number;
  /** System/TimeCreated/@SystemTime, ISO-8601 UTC with 7 fractional digits. */
  timestamp: string;
  /** Record header FILETIME, same format. */
  written_time?: string;
  channel: string;
  provider: string;
  provider_guid?: string;
  event_source_name?: string;
  event_id: number;
  qualifiers?: number;
  version?: number;
  level?: number;
  task?: number;
  opcode?: number;
  /** `0x` + 16 lower-case hex digits. */
  keywords?: string;
  activity_id?: string;
  related_activity_id?: string;
  process_id?: number;
  thread_id?: number;
  user_sid?: string;
  computer: string;
  /** Flattened EventData / UserData / ProcessingErrorData: every value a string. */
  event_data: Record<string, string>;
  event_data_kind: EventDataKind;
  user_data_root?: string;
}

/** Where a record or an error came from: enough to find the bytes again. */
export interface EvtxLocation {
  file: string;
  chunk: number;
  /** Absolute byte offset of the record (or chunk) in the file. */
  offset: number;
}

export interface EvtxRecordItem {
  kind: 'record';
  record: EvtxRecord;
  loc: EvtxLocation;
  /** Found in chunk slack space after the last live record (deleted or overwritten remnants). */
  recovered?: boolean;
  /** The record as XML, when asked for (`xml` option). */
  xml?: string;
}

export interface EvtxErrorItem {
  kind: 'error';
  loc: EvtxLocation;
  /**
   * `warning`: a recoverable problem (CRC mismatch), the data is still returned; `error`: a record or chunk
   * was lost; `fatal`: the input could not be read at all (not EVTX, I/O error).
   */
  severity: 'warning' | 'error' | 'fatal';
  message: string;
}

export type EvtxItem = EvtxRecordItem | EvtxErrorItem;
