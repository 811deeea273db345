// Messages between the normalizing pool (ingest/parallel/pool.ts) and its workers (worker.ts).
import type { InputFormat } from '../../schemas/event.js';
import type { KnowledgeSnapshot } from '../normalize/clock.js';
import type { EntryRange } from '../json/archive.js';
import type { RawItem } from '../json/read.js';

/**
 * A unit of work: blocks [from, to) of an EVTX file; a JSON input or an archive (of a zip, maybe only the
 * entries in `members`: plan.ts), which its worker hands out in parts when it is large; or one such part
 * (its pieces of text, or an archived EVTX member's chunks, parsed by whoever takes it).
 */
export type Job =
  | { kind: 'evtx'; file: string; from: number; to: number }
  | { kind: 'json'; file: string; format?: InputFormat; members?: EntryRange }
  | { kind: 'part'; file: string; format?: InputFormat; items: RawItem[]; chars: number };

export interface WorkerSetup {
  tz?: string;
  ingested: string;
  /** The schema's full check cannot cross threads (schemas/event.ts's zod objects): the fast one or none. */
  validate: 'fast' | 'none';
  /** Which events come back as objects besides their JSON line: all, or those detectors and findings use. */
  ship: 'all' | 'relevant';
  /** Large JSON inputs are handed out in parts (there are other workers to take them). */
  split: boolean;
}

export type ToWorker =
  | { type: 'setup'; setup: WorkerSetup }
  | { type: 'learn'; id: number; file: string; format?: InputFormat }
  | { type: 'knowledge'; snap: KnowledgeSnapshot }
  | { type: 'job'; id: number; job: Job }
  /** The part was registered: another worker will parse it, or (run: its job id) this reader parses it now. */
  | { type: 'part-taken'; id: number; run: number | undefined }
  /** Another worker took the job of a file this one kept: drop the items. */
  | { type: 'forget'; file: string }
  /** A batch was taken: the worker may send the next (bounds what waits in the main thread). */
  | { type: 'ack'; id: number }
  /** A batch's shared buffer is no longer read: the worker may fill it again. */
  | { type: 'release'; buf: SharedArrayBuffer };

/**
 * What a job yields, in input order. `ndjson` holds one JSON line per event (UTF-8); a full batch's lie in
 * the worker's shared memory (never transferred: see ingest/evtx/pool.ts), handed back with 'release'.
 */
export interface JobBatch {
  events: number;
  ndjson: Uint8Array;
  /**
   * The events that matter to the session engine or findings (or all: WorkerSetup.ship), as the byte
   * ranges [start, end) of their lines in `ndjson`, in pairs: the receiver parses them (cheaper than a
   * structured clone of the objects, and the text is there already). Read them with shippedEvents().
   */
  shipped: Uint32Array;
  /** Rejects as JSON lines (written as they are). */
  rejects: string;
  /** Warnings (damage read past: a CRC mismatch, a truncated chunk) as JSON lines {source, message}. */
  warnings: string;
  /** Made before the first pass ended, and the records asked what it teaches: to be done again. */
  provisional?: boolean;
}

export type FromWorker =
  /** cached: the worker kept the file's items; its normalizing job is cheapest there. */
  | { type: 'learned'; id: number; snap?: KnowledgeSnapshot; error?: string; cached?: boolean }
  | { type: 'batch'; id: number; batch: JobBatch }
  /** A part of a large JSON input, for any worker to parse: answered with part-taken. */
  | { type: 'part'; id: number; items: RawItem[]; chars: number }
  | { type: 'done'; id: number; unreadable?: string }
  | { type: 'failed'; message: string };
