// Worker-thread entry of the normalizing pool: reads, parses, normalizes and serializes its jobs, and
// sends back JSON lines and which of them the detectors need (their ranges: the main thread parses those).
import { parentPort } from 'node:worker_threads';
import { detectorsUse } from '../../detectors/uses.js';
import type { InputFormat, NormalizedEvent, Reject } from '../../schemas/event.js';
import { ClockKnowledge, Normalizer } from '../normalize/index.js';
import { FileLearner, normalizeItem } from '../pipeline.js';
import { evtxInputItem, parseMemberChunk, readEvtxMemberChunks, type InputItem } from '../sources.js';
import { pieceItem, readJsonPieces, type ChunkPiece, type EvtxMembers, type PieceItem, type RawItem } from '../json/read.js';
import { jsonFormat } from '../json/detect.js';
import { readEvtxRange } from '../evtx/range.js';
import type { RecordSink } from '../evtx/chunk.js';
import { byte, jsonBytes, jsonPos, jsonRewind, rawString } from '../evtx/jsonout.js';
import { EvtxLines } from '../normalize/evtx-lines.js';
import type { EntryRange } from '../json/archive.js';
import type { FromWorker, Job, JobBatch, ToWorker, WorkerSetup } from './protocol.js';

const BATCH_EVENTS = 4096;
const BATCH_CHARS = 2 << 20;
/** A part of a large JSON input handed to another worker: small enough to share one file between all. */
const PART_ITEMS = 1024;
const PART_CHARS = 1 << 20;

const port = parentPort!;
const CUT_EVTX_MEMBERS: EvtxMembers<InputItem | ChunkPiece> = { read: readEvtxMemberChunks };
/** Until the first pass ends: knowledge that knows nothing and notes that it was asked. */
class ProvisionalKnowledge extends ClockKnowledge {
  asked = false;
  override fqdnOf(): undefined { this.asked = true; return undefined; }
  override offset(): undefined { this.asked = true; return undefined; }
  override anchor(): undefined { this.asked = true; return undefined; }
}

let setup: WorkerSetup = { ingested: new Date().toISOString(), validate: 'fast', ship: 'relevant', split: false };
let provisional: ProvisionalKnowledge | undefined = new ProvisionalKnowledge();
let norm = new Normalizer({ ...setup, knowledge: provisional });
/** The answer to the part this worker just sent (parts go one at a time). */
let onPartTaken: ((run: number | undefined) => void) | undefined;

/** Batches sent and not yet acknowledged: a worker runs at most one batch ahead of the main thread. */
let unacked = 0;
let onAck: (() => void) | undefined;

const post = (m: FromWorker): void => port.postMessage(m);

const BUFFER_BYTES = BATCH_CHARS + (BATCH_CHARS >> 2);
/**
 * Batch buffers in shared memory, handed back by the main thread once written ('release'), and filled
 * again: no transfer ever detaches one (which would slow every typed-array access of this thread's
 * parser), and no megabytes are allocated and freed per batch (glibc kept such churn as RSS).
 * Grown buffers are kept too: an EVTX range is one batch (about 10 MB of lines for 2 MiB of System log),
 * and when only standard sizes came back, every range left its grown buffers to a collection that a
 * worker with a small JS heap rarely runs: the dropped buffers held 55 MB per 60 000 events (hunt of 6
 * copies of the System log: 480 MB peak RSS; 12 copies: 750-790 MB).
 */
const free: SharedArrayBuffer[] = [];
const FREE_MAX = 4;
/** Memory kept for reuse at most, whatever the buffers' sizes. */
const FREE_BYTES_MAX = 96 << 20;

/** The smallest kept buffer that holds `bytes`, else a new one. */
function sharedBuffer(bytes: number): Buffer {
  let best = -1;
  for (let i = 0; i < free.length; i++) if (free[i].byteLength >= bytes && (best < 0 || free[i].byteLength < free[best].byteLength)) best = i;
  if (best < 0) return Buffer.from(new SharedArrayBuffer(Math.max(bytes, BUFFER_BYTES)));
  const sab = free[best];
  free[best] = free[free.length - 1];
  free.pop();
  return Buffer.from(sab);
}

/** Keeps a buffer for reuse; past the caps, the smallest kept ones go first. */
function release(sab: SharedArrayBuffer): void {
  // A small batch's own buffer (Batcher.send) is too small to fill again.
  if (sab.byteLength > FREE_BYTES_MAX || sab.byteLength < BUFFER_BYTES) return;
  free.push(sab);
  free.sort((a, b) => b.byteLength - a.byteLength);
  let kept = 0;
  for (let i = 0; i < free.length; i++) {
    kept += free[i].byteLength;
    if (i >= FREE_MAX || kept > FREE_BYTES_MAX) {
      free.length = i;
      break;
    }
  }
}

// Called directly: `buf.set` looks through Buffer.prototype each time (see ingest/evtx/jsonout.ts).
const setBytes = Uint8Array.prototype.set;

const EMPTY = Buffer.alloc(0);

/** Collects one job's output and sends it in bounded batches. */
class Batcher {
  // JSON lines are encoded into this buffer as they are made: no array of strings outlives a scavenge.
  // Unused when the lines go to the JSON writer (viaJson).
  private buf: Buffer;
  private bytes = 0;
  private events = 0;
  /** Byte ranges of the shipped events' lines in buf (or in the JSON writer's output), in pairs. */
  private shipped: number[] = [];
  private rejects: string[] = [];
  private warnings: string[] = [];

  /**
   * `viaJson`: the lines are written to the JSON writer (ingest/evtx/jsonout.ts), where an EVTX range's
   * plain lines are written straight from their templates, and copied to shared memory once, when sent
   * (copying each line into shared memory cost 9% of a worker's time on large System logs).
   */
  constructor(private readonly id: number, private readonly viaJson = false) {
    this.buf = viaJson ? EMPTY : sharedBuffer(BUFFER_BYTES);
    if (viaJson) jsonRewind(0);
  }

  event(e: NormalizedEvent): void {
    const line = JSON.stringify(e);
    let start: number, end: number;
    if (this.viaJson) {
      start = jsonPos();
      rawString(line);
      end = jsonPos();
      byte(10);
    } else {
      // UTF-8 takes at most 3 bytes per UTF-16 unit.
      if (this.bytes + 3 * line.length + 1 > this.buf.length) this.grow(this.bytes + 3 * line.length + 1);
      start = this.bytes;
      end = this.bytes += this.buf.write(line, this.bytes, 'utf8');
      this.buf[this.bytes++] = 10;
    }
    if (setup.ship === 'all' || detectorsUse(e)) this.shipped.push(start, end);
    this.events++;
  }
  private grow(need: number): void {
    const b = sharedBuffer(Math.max(need, 2 * this.buf.length));
    this.buf.copy(b, 0, 0, this.bytes);
    release(this.buf.buffer as SharedArrayBuffer);
    this.buf = b;
  }
  /** A plain event's line, just written to the JSON writer from `start` (viaJson only); no detector uses it. */
  written(start: number): void {
    if (setup.ship === 'all') this.shipped.push(start, jsonPos());
    byte(10);
    this.events++;
  }
  reject(r: Reject): void { this.rejects.push(JSON.stringify(r)); }
  warning(source: string, message: string): void { this.warnings.push(JSON.stringify({ source, message })); }
  get full(): boolean { return this.events >= BATCH_EVENTS || (this.viaJson ? jsonPos() : this.bytes) >= BATCH_CHARS; }

  async send(): Promise<void> {
    if (this.events === 0 && this.rejects.length === 0 && this.warnings.length === 0) return;
    // A full buffer goes to the main thread as it is (shared) and another takes its place; a small batch
    // is copied, so that a short job does not hold megabytes of nothing. The copy is shared memory too: a
    // plain array's bytes would be copied twice more, into the message and out of it.
    let ndjson: Uint8Array;
    if (this.viaJson) {
      const n = jsonPos();
      const out = 2 * n < BUFFER_BYTES ? new Uint8Array(new SharedArrayBuffer(n)) : sharedBuffer(n);
      setBytes.call(out, jsonBytes(0, n), 0);
      ndjson = new Uint8Array(out.buffer, 0, n);
      jsonRewind(0);
    } else if (2 * this.bytes < this.buf.length) {
      ndjson = new Uint8Array(new SharedArrayBuffer(this.bytes));
      ndjson.set(this.buf.subarray(0, this.bytes));
    } else {
      ndjson = new Uint8Array(this.buf.buffer, 0, this.bytes);
      this.buf = sharedBuffer(BUFFER_BYTES);
    }
    const batch: JobBatch = { events: this.events, ndjson, shipped: Uint32Array.from(this.shipped), rejects: this.rejects.length > 0 ? this.rejects.join('\n') + '\n' : '', warnings: this.warnings.length > 0 ? this.warnings.join('\n') + '\n' : '' };
    if (provisional?.asked) batch.provisional = true;
    this.bytes = 0; this.events = 0; this.shipped = []; this.rejects = []; this.warnings = [];
    post({ type: 'batch', id: this.id, batch });
    unacked++;
    while (unacked > 1) await new Promise<void>((r) => { onAck = r; });
  }

  /** The job is over: its buffer serves the next. */
  close(): void {
    if (!this.viaJson) release(this.buf.buffer as SharedArrayBuffer);
  }
}

function take(b: Batcher, file: string, it: Parameters<typeof normalizeItem>[2]): void {
  const r = normalizeItem(norm, file, it);
  if (r.kind === 'event') b.event(r.event);
  else if (r.kind === 'reject') b.reject(r.reject);
  else if (r.kind === 'warning') b.warning(r.source, r.message);
}

/**
 * An EVTX file's records into the batch (viaJson) as the chunk walk finds them: plain ones written as
 * lines straight from their template (EvtxLines), the rest normalized as objects. Undefined when every
 * event must pass the zod schema (which checks objects).
 */
function evtxSink(b: Batcher, file: string): RecordSink | undefined {
  if (!norm.fastChecked) return undefined;
  const lines = new EvtxLines(norm, file);
  return {
    line(plan, ctx, count, writtenLo, writtenHi, recovered, chunk, offset) {
      const start = lines.write(plan, ctx, count, writtenLo, writtenHi, recovered, chunk, offset);
      if (start < 0) return false;
      b.written(start);
      return true;
    },
    item(it) {
      take(b, file, evtxInputItem(file, it));
    },
  };
}

async function runJob(id: number, job: Job): Promise<void> {
  const b = new Batcher(id, job.kind === 'evtx');
  if (provisional) provisional.asked = false;
  try {
    if (job.kind === 'evtx') {
      // One batch per range: with provisional knowledge the whole range must be judged before it is sent.
      const sink = evtxSink(b, job.file);
      for (const items of readEvtxRange(job.file, job.from, job.to, { sink })) for (const it of items) take(b, job.file, evtxInputItem(job.file, it));
    } else if (job.kind === 'part') {
      await takeRaws(b, job.file, job.format, job.items);
    } else {
      // Items kept by the first pass are the whole file's: a share of an archive reads its own.
      const items = job.members ? undefined : takeKept(job.file);
      if (items) {
        for (const it of items) {
          take(b, job.file, it);
          if (b.full) await b.send();
        }
      } else await readJson(b, id, job.file, job.format, job.members);
    }
    await b.send();
    post({ type: 'done', id });
  } catch (e) {
    // What was read before the failure is kept (sent); the file is reported unreadable from there on.
    await b.send();
    post({ type: 'done', id, unreadable: (e as Error).message });
  } finally {
    b.close();
  }
}

function raw(file: string, format: InputFormat | undefined, r: PieceItem | InputItem): InputItem | InputItem[] {
  return r.kind === 'piece' ? pieceItem(r.piece, file, r.entry, jsonFormat(format)) : r;
}

/**
 * Normalizes raw items into the batch: pieces, items, or archived EVTX chunks (their records). It awaits
 * only to send a full batch, not once per item (a promise and a turn of the microtask queue each).
 */
async function takeRaws(b: Batcher, file: string, format: InputFormat | undefined, rs: RawItem[]): Promise<void> {
  for (const r of rs) {
    if (r.kind !== 'chunk') {
      const it = raw(file, format, r);
      if (Array.isArray(it)) for (const x of it) take(b, file, x);
      else take(b, file, it);
      if (b.full) await b.send();
      continue;
    }
    for (const it of parseMemberChunk(file, r)) {
      take(b, file, it);
      if (b.full) await b.send();
    }
  }
}

/**
 * What an item weighs in a part, in characters of JSON text: a piece its text, an archived EVTX chunk its
 * bytes (16 chunks to a part).
 */
function rawChars(r: RawItem): number {
  return r.kind === 'piece' ? r.piece.text.length : r.kind === 'chunk' ? r.bytes.byteLength : 0;
}

/**
 * A JSON input or an archive (or a share of a zip): parsed here when it is small; when it is larger than a
 * part, read and split here and handed out part by part, so that every worker parses a share of one large
 * export or archived log.
 */
async function readJson(b: Batcher, id: number, file: string, format: InputFormat | undefined, members: EntryRange | undefined): Promise<void> {
  let part: RawItem[] = [];
  let chars = 0, split = false;
  const flush = async (): Promise<void> => {
    if (split) {
      const taken = new Promise<number | undefined>((r) => { onPartTaken = r; });
      post({ type: 'part', id, items: part, chars });
      const run = await taken;
      if (run !== undefined) await runJob(run, { kind: 'part', file, format, items: part, chars });
    } else {
      await takeRaws(b, file, format, part);
    }
    part = [];
    chars = 0;
  };
  // EVTX members come as chunks cut out and not parsed: a large log is parsed by every worker, in parts.
  for await (const r of readJsonPieces(file, CUT_EVTX_MEMBERS, members)) {
    part.push(r);
    chars += rawChars(r);
    if (part.length >= PART_ITEMS || chars >= PART_CHARS) {
      split = setup.split;
      await flush();
    }
  }
  if (part.length > 0) await flush();
}

/**
 * Items of files the first pass read to the end, kept for their normalizing job (sent here when this
 * worker is free): the file is not read, inflated and parsed twice. Bounded: past the cap, re-read.
 */
const kept = new Map<string, { items: InputItem[]; chars: number }>();
/** JSON text behind the kept items (their objects take a few times more): well inside a worker's heap. */
let keptChars = 0;
const MAX_KEPT_CHARS = 24 << 20;

function takeKept(file: string): InputItem[] | undefined {
  const k = kept.get(file);
  if (!k) return undefined;
  kept.delete(file);
  keptChars -= k.chars;
  return k.items;
}

async function learn(id: number, file: string, format: InputFormat | undefined): Promise<void> {
  const k = new ClockKnowledge();
  try {
    const learner = new FileLearner(k, file);
    let items: InputItem[] | undefined = [];
    let chars = 0, complete = true;
    // EVTX members are not learned from (nor kept): the normalizing job reads the archive again.
    let more = true;
    const learnFrom = (it: InputItem): void => {
      if (items) items.push(it);
      if (!learner.observe(it)) more = false;
    };
    for await (const r of readJsonPieces(file, { skipped: () => { complete = false; } })) {
      const it = raw(file, format, r);
      if (Array.isArray(it)) for (const x of it) { if (more) learnFrom(x); }
      else learnFrom(it);
      if (items) {
        if (r.kind === 'piece') chars += r.piece.text.length;
        if (keptChars + chars > MAX_KEPT_CHARS) items = undefined;
      }
      if (!more) { complete = false; break; }
    }
    const cached = complete && items !== undefined;
    if (cached) { kept.set(file, { items: items!, chars }); keptChars += chars; }
    post({ type: 'learned', id, snap: k.snapshot(), cached });
  } catch (e) {
    post({ type: 'learned', id, error: (e as Error).message });
  }
}

port.on('message', (m: ToWorker) => {
  try {
    switch (m.type) {
      case 'setup': setup = m.setup; norm = new Normalizer({ tz: setup.tz, ingested: setup.ingested, validate: setup.validate, knowledge: provisional }); break;
      case 'knowledge':
        provisional = undefined;
        norm = new Normalizer({ tz: setup.tz, ingested: setup.ingested, validate: setup.validate, knowledge: ClockKnowledge.from(m.snap) });
        break;
      case 'learn': void learn(m.id, m.file, m.format); break;
      case 'part-taken': { const r = onPartTaken; onPartTaken = undefined; r?.(m.run); break; }
      case 'forget': takeKept(m.file); break;
      case 'job': void runJob(m.id, m.job); break;
      case 'ack': { unacked--; const r = onAck; onAck = undefined; r?.(); break; }
      case 'release': release(m.buf); break;
    }
  } catch (e) {
    post({ type: 'failed', message: (e as Error).stack ?? String(e) });
  }
});
