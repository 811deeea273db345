// Files in, normalized events and rejects out: the whole normalize stage as one async stream.
// JSON inputs are read twice: the first pass learns clocks (Sysmon UtcTime per host) and host FQDNs, the
// second normalizes with what was learned. EVTX times are true UTC and need no first pass.
// The pieces (learnFile, normalizeItem) also run on worker threads: ingest/parallel.
import type { InputFormat, NormalizedEvent, Reject } from '../schemas/event.js';
import { ClockKnowledge, Normalizer, type Validation } from './normalize/index.js';
import { jsonFormat } from './json/detect.js';
import { position, readJsonFile, sourceName } from './json/read.js';
import { isEvtxPath, readInput, type InputItem } from './sources.js';

export type PipelineItem =
  | { kind: 'event'; event: NormalizedEvent }
  | { kind: 'reject'; reject: Reject }
  | { kind: 'warning'; source: string; message: string }
  | { kind: 'unreadable'; file: string; error: string };

/** Records read from a file in the learning pass before deciding that its clock is trusted UTC. */
const PROBE = 200;

export interface PipelineOptions {
  format?: InputFormat;
  tz?: string;
  validate?: Validation;
  ingested?: string;
}

/** Whether a file needs the learning pass (JSON does; EVTX times are true UTC). */
export function needsLearning(file: string, format?: InputFormat): boolean {
  return !isEvtxPath(file, format);
}

/** The learning pass over one file's items: observe() each until it returns false (nothing more to learn). */
export class FileLearner {
  private seen = 0;
  private trusted = 0;
  constructor(private readonly knowledge: ClockKnowledge, private readonly file: string) {}

  observe(it: InputItem): boolean {
    if (it.kind !== 'record') return true;
    this.knowledge.observe(it.record, sourceName(this.file, it.prov.entry));
    // A file whose first records all carry true UTC (Winlogbeat) has no clock to learn: stop early.
    this.seen++;
    if ((it.record.time_kind ?? 'utc') === 'utc') this.trusted++;
    return !(this.seen === PROBE && this.trusted === PROBE);
  }
}

/**
 * The learning pass over one JSON file (or archive: its EVTX members are passed over, as EVTX files are).
 * Throws when the file cannot be read.
 */
export async function learnFile(knowledge: ClockKnowledge, f: string, format?: InputFormat): Promise<void> {
  const learner = new FileLearner(knowledge, f);
  for await (const it of readJsonFile(f, jsonFormat(format))) if (!learner.observe(it)) break;
}

/** One input item of file `f`, normalized: an event, or a reject that keeps the original and the reason. */
export function normalizeItem(norm: Normalizer, f: string, it: InputItem): PipelineItem {
  if (it.kind !== 'record') return it;
  const r = norm.normalize(it.record, it.prov);
  if (r.ok) return { kind: 'event', event: r.event };
  return {
    kind: 'reject',
    reject: { source: sourceName(f, it.prov.entry), position: position(it.prov), reason: r.reason, original: JSON.stringify(it.record), format: it.prov.format },
  };
}

/** Normalize files (already expanded from directories) in order. */
export async function* normalizeFiles(files: string[], opts: PipelineOptions = {}): AsyncGenerator<PipelineItem> {
  const knowledge = new ClockKnowledge();
  const failed = new Set<string>();
  for (const f of files) {
    if (!needsLearning(f, opts.format)) continue;
    try {
      await learnFile(knowledge, f, opts.format);
    } catch (e) {
      failed.add(f);
      yield { kind: 'unreadable', file: f, error: (e as Error).message };
    }
  }
  knowledge.seal();
  const norm = new Normalizer({ tz: opts.tz, knowledge, validate: opts.validate, ingested: opts.ingested });
  for (const f of files) {
    if (failed.has(f)) continue;
    try {
      for await (const it of readInput(f, opts.format)) yield normalizeItem(norm, f, it);
    } catch (e) {
      yield { kind: 'unreadable', file: f, error: (e as Error).message };
    }
  }
}
