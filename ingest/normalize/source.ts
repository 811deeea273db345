// The one intermediate shape every reader produces: the EVTX record shape (ingest/evtx/record.ts) with the
// few extras JSON collectors add. Normalization works on this shape only, so it never knows the input format.
import type { EventDataKind } from '../evtx/record.js';

/**
 * How far the source's time can be trusted.
 * - `utc`: true UTC (EVTX, Winlogbeat).
 * - `local`: local wall time with no zone (NXLog `EventTime`): needs the source's UTC offset.
 * - `utc-12h`: UTC written with a 12-hour clock and no AM/PM (Export-WinEvents `TimeGenerated`).
 */
export type TimeKind = 'utc' | 'local' | 'utc-12h';

export interface SourceRecord {
  record_id?: number;
  /** The record's time exactly as the source wrote it. */
  timestamp: string;
  time_kind?: TimeKind;
  written_time?: string;
  channel: string;
  provider: string;
  provider_guid?: string;
  event_id: number;
  version?: number;
  level?: number | string;
  task?: number | string;
  opcode?: number | string;
  /** `0x...` hex mask, or keyword names (Winlogbeat). */
  keywords?: string | string[];
  activity_id?: string;
  related_activity_id?: string;
  process_id?: number;
  thread_id?: number;
  user_sid?: string;
  user_name?: string;
  user_domain?: string;
  computer: string;
  /** Flattened EventData / UserData / ProcessingErrorData; values are strings. */
  event_data: Record<string, string>;
  event_data_kind: EventDataKind;
  user_data_root?: string;
  /** Rendered message text, when the collector shipped it. */
  message?: string;
  /** When the collector received the event (ISO UTC), if it says. */
  ingested?: string;
  /** Audit success/failure when the collector gave it as text rather than keywords. */
  audit?: 'success' | 'failure';
  /** Recovered from EVTX chunk slack space, as the dump that carries the record says (hoptrail dump JSON). */
  recovered?: boolean;
  /** Local export time from the file name (Export-WinEvents), `YYYY-MM-DDTHH:MM:SS`. */
  export_local_time?: string;
}
