// Files in, normalized JSON lines and the events detectors need out, on worker threads, in input order.
// The same two passes as ingest/pipeline.ts (learn clocks and FQDNs from JSON inputs, then normalize),
// spread over the workers: large EVTX files are cut into block ranges, a zip holding EVTX into its
// members (plan.ts), other JSON inputs and archives go whole.
// - Output order never depends on which worker finished first.
// - EVTX ranges do not wait for the first pass: they run at once with provisional knowledge, and the rare
//   range whose records asked it something (a short host name's FQDN) runs again once it is final.
// - Memory is bounded: workers have modest heaps, and a batch ahead of its turn is acknowledged only
//   while the batches held stay under a cap.
import { availableParallelism } from 'node:os';
import { statSync } from 'node:fs';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { InputFormat, NormalizedEvent } from '../../schemas/event.js';
import { ClockKnowledge, type KnowledgeSnapshot } from '../normalize/clock.js';
import { needsLearning } from '../pipeline.js';
import { isEvtxPath } from '../sources.js';
import { planEvtx } from '../evtx/range.js';
import { zipShares } from './plan.js';
import type { FromWorker, Job, JobBatch, ToWorker, WorkerSetup } from './protocol.js';

export type { JobBatch } from './protocol.js';

/** A shipped event, parsed from its line, and where that line is in the batch's ndjson ([start, end)). */
export interface Shipped { event: NormalizedEvent; start: number; end: number }

/**
 * The events a batch ships (JobBatch.shipped), parsed from their JSON lines. Without `messages` (shipped
 * only for the detectors) the message text is left out, as the detectors never read it.
 */
export function* shippedEvents(b: JobBatch, messages = false): Generator<Shipped> {
  const text = Buffer.from(b.ndjson.buffer, b.ndjson.byteOffset, b.ndjson.byteLength);
  const r = b.shipped;
  for (let i = 0; i < r.length; i += 2) {
    const event = JSON.parse(text.toString('utf8', r[i], r[i + 1])) as NormalizedEvent;
    if (!messages && event.message !== undefined) event.message = undefined;
    yield { event, start: r[i], end: r[i + 1] };
  }
}

/** A file's size for progress (0 when it cannot be read: its job says why). */
function fileSize(f: string): number {
  try {
    return statSync(f).size;
  } catch {
    return 0;
  }
}

/** 64 KiB blocks per EVTX job: about 8 000 records, small enough to balance two threads on one file. */
const RANGE_BLOCKS = 32;
/** Bytes of JSON lines held ahead of their turn before workers must wait. */
const HELD_CAP = 16 << 20;
/** Characters of JSON text read from a large input and not yet taken by a worker, before its reader waits. */
const PART_CAP = 8 << 20;
/**
 * A worker's heap holds a batch or two and one record of at most 16 MiB (ingest/json/split.ts): a
 * bounded heap is collected sooner, and every worker's heap counts in RSS.
 */
const LIMITS: ResourceLimits = { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 16 };

export interface ParallelOptions {
  format?: InputFormat;
  tz?: string;
  validate?: 'fast' | 'none';
  ingested?: string;
  /** Worker threads (default: the cores available, at most 4). */
  threads?: number;
  /** Ship every event as an object (an Elasticsearch sink needs them all), not only what detectors use. */
  shipAll?: boolean;
  /** Filled in as work goes: ranges redone with the final knowledge; files normalized from kept items; parts of large JSON inputs. */
  stats?: { redone: number; kept: number; parts?: number };
}

export type ParallelItem =
  /** release(): the batch's bytes are no longer read (its worker may fill their memory again). */
  | { kind: 'batch'; file: string; batch: JobBatch; release: () => void }
  /** A file is finished (all its jobs); `bytes` is its size, for progress. */
  | { kind: 'file-done'; file: string; bytes: number }
  | { kind: 'unreadable'; file: string; error: string };

const WORKER = new URL('./worker.js', import.meta.url);
/** Workers started ahead of their pool (warmUp); they do not hold the process open until taken. */
const warm: Worker[] = [];
/** What a worker started ahead reported before its pool took it (a start-up failure). */
const warmErrors = new WeakMap<Worker, Error>();

/**
 * Starts `threads` workers now, for the next normalizeInParallel: their start-up (module loading, a few
 * hundred milliseconds) overlaps the caller's own and the listing and planning of the inputs.
 */
export function warmUp(threads: number): void {
  while (warm.length < threads) {
    const w = new Worker(WORKER, { resourceLimits: LIMITS });
    w.unref();
    w.once('error', (e) => warmErrors.set(w, e));
    warm.push(w);
  }
}

export function defaultThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

type Task = { kind: 'learn'; index: number } | { kind: 'job'; index: number };

interface Slot { worker: Worker; task?: Task }

interface JobState {
  id: number;
  job: Job | { kind: 'unreadable'; file: string; error: string };
  /** A JSON input handed out in parts: the parts come after it, in order. */
  parent?: JobState;
  parts?: number;
  lastOfFile: boolean;
  /** held: counted against the cap (arrived ahead of its turn); deferred: not yet acknowledged. */
  batches: { batch: JobBatch; size: number; held: boolean; deferred: boolean; release: () => void }[];
  dispatched: boolean;
  done: boolean;
  /** Ran with provisional knowledge and needed more: runs again only with the final knowledge. */
  needsKnowledge?: boolean;
  /** The worker that kept this file's items from the first pass. */
  keptBy?: Slot;
  unreadable?: string;
  slot?: Slot;
}

/** Normalizes `files` (already expanded) on worker threads; yields their output in input order. */
export async function* normalizeInParallel(files: string[], opts: ParallelOptions = {}): AsyncGenerator<ParallelItem> {
  const asked = Math.max(1, opts.threads ?? defaultThreads());
  // `split` is set once the workers are counted (one worker: nothing to share a large JSON input with).
  const setup: WorkerSetup = { tz: opts.tz, ingested: opts.ingested ?? new Date().toISOString(), validate: opts.validate ?? 'fast', ship: opts.shipAll ? 'all' : 'relevant', split: false };
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const signal = (): void => { const w = wake; wake = undefined; w?.(); };
  const waitForSignal = (): Promise<void> => new Promise((r) => { wake = r; });
  const fail = (e: Error): void => { failure ??= e; signal(); };

  // Work, planned before any worker starts.
  const toLearn = files.filter((f) => needsLearning(f, opts.format));
  const learned: ({ snap?: KnowledgeSnapshot; error?: string } | undefined)[] = toLearn.map(() => undefined);
  let learnNext = 0, learnPending = toLearn.length;
  let knowledge: KnowledgeSnapshot | undefined = toLearn.length === 0 ? new ClockKnowledge().snapshot() : undefined;
  // Jobs in output order (parts of a split JSON input are inserted after it); byId for messages.
  const jobs: JobState[] = [];
  const byId = new Map<number, JobState>();
  let nextId = 0;
  const sizes = new Map<string, number>();
  const state = (job: JobState['job'], lastOfFile: boolean, done = false): JobState => {
    const st: JobState = { id: nextId++, job, lastOfFile, batches: [], dispatched: done, done };
    byId.set(st.id, st);
    return st;
  };
  for (const f of files) {
    sizes.set(f, fileSize(f));
    if (!isEvtxPath(f, opts.format)) {
      // A zip holding EVTX: a job per EVTX member, and per run of other members between them.
      const shares = await zipShares(f);
      if (!shares) { jobs.push(state({ kind: 'json', file: f, format: opts.format }, true)); continue; }
      shares.forEach((members, i) => jobs.push(state({ kind: 'json', file: f, format: opts.format, members }, i === shares.length - 1)));
      continue;
    }
    const plan = planEvtx(f);
    if (plan.fatal !== undefined) { jobs.push(state({ kind: 'unreadable', file: f, error: plan.fatal }, true, true)); continue; }
    // No block: still a job, for the file header's warnings (and 'file holds no chunks').
    if (plan.blocks === 0) { jobs.push(state({ kind: 'evtx', file: f, from: 0, to: 0 }, true)); continue; }
    for (let from = 0; from < plan.blocks; from += RANGE_BLOCKS) {
      const to = Math.min(plan.blocks, from + RANGE_BLOCKS);
      jobs.push(state({ kind: 'evtx', file: f, from, to }, to === plan.blocks));
    }
  }

  // No more workers than jobs that can run at once: a worker with nothing to do is still a thread to start
  // and a JIT to warm (~0.15 s of CPU; hunt of one small log 0.35 -> 0.28 s with one). A whole JSON input
  // counts twice, as it may be cut into parts for several workers.
  const n = Math.min(asked, Math.max(1, jobs.reduce((k, st) => k + (st.done ? 0 : st.job.kind === 'json' && !st.job.members ? 2 : 1), 0)));
  setup.split = n > 1;

  const slots: Slot[] = [];
  let current = 0, held = 0, partChars = 0;
  const send = (s: Slot, m: ToWorker): void => s.worker.postMessage(m);
  let closed = false;
  /** Hands a batch's shared buffer back to the worker that filled it (a copied batch has nothing to give). */
  const releaser = (s: Slot, b: JobBatch): (() => void) => {
    const buf = b.ndjson.buffer;
    if (!(buf instanceof SharedArrayBuffer)) return () => {};
    let done = false;
    return () => {
      if (done || closed) return;
      done = true;
      send(s, { type: 'release', buf });
    };
  };

  /**
   * The first job not yet dispatched that slot s may run now. JSON inputs wait for the first pass; a file
   * whose items another worker kept is left to it, unless the output is waiting for that very file.
   */
  const nextJob = (s: Slot): number | undefined => {
    for (let i = current; i < jobs.length; i++) {
      const st = jobs[i];
      if (st.dispatched) continue;
      if (!knowledge && !(st.job.kind === 'evtx' && !st.needsKnowledge)) continue;
      if (st.keptBy && st.keptBy !== s && i !== current) continue;
      return i;
    }
    return undefined;
  };

  /** No job before i is still waiting to be dispatched. */
  const isHead = (i: number): boolean => {
    for (let j = current; j < i; j++) if (!jobs[j].dispatched) return false;
    return true;
  };

  const dispatch = (s: Slot): void => {
    s.task = undefined;
    // The job the output waits for comes first; then the first pass; then whatever may run.
    const head = nextJob(s);
    if (learnNext < toLearn.length && (head === undefined || !isHead(head))) {
      const index = learnNext++;
      s.task = { kind: 'learn', index };
      send(s, { type: 'learn', id: index, file: toLearn[index], format: opts.format });
      return;
    }
    const i = head;
    if (i === undefined) return;
    const st = jobs[i];
    st.dispatched = true;
    st.slot = s;
    s.task = { kind: 'job', index: st.id };
    if (st.keptBy && st.keptBy !== s) send(st.keptBy, { type: 'forget', file: st.job.file });
    else if (st.keptBy && opts.stats) opts.stats.kept++;
    send(s, { type: 'job', id: st.id, job: st.job as Job });
    if (st.job.kind === 'part') {
      partChars -= st.job.chars;
      st.job = { ...st.job, items: [] };
    }
  };

  const releaseDeferred = (): void => {
    for (const j of jobs) {
      for (const b of j.batches) {
        if (!b.deferred || !j.slot) continue;
        b.deferred = false;
        send(j.slot, { type: 'ack', id: j.id });
      }
    }
  };

  const firstPassDone = (): void => {
    const k = new ClockKnowledge();
    for (let i = 0; i < toLearn.length; i++) {
      const r = learned[i]!;
      if (r.error === undefined && r.snap) k.merge(r.snap);
    }
    knowledge = k.snapshot();
    // A file the first pass could not read is reported in its place (once, for all its jobs), and not
    // read again.
    for (let i = 0; i < toLearn.length; i++) {
      const error = learned[i]!.error;
      if (error === undefined) continue;
      const ofFile = (st: JobState | undefined): boolean => st?.job.kind === 'json' && st.job.file === toLearn[i];
      const j = jobs.findIndex(ofFile);
      if (j < 0) continue;
      let k = j;
      while (ofFile(jobs[k])) byId.delete(jobs[k++].id);
      jobs.splice(j, k - j, state({ kind: 'unreadable', file: toLearn[i], error }, true, true));
    }
    for (const s of slots) send(s, { type: 'knowledge', snap: knowledge });
    for (const s of slots) if (!s.task) dispatch(s);
  };

  const onMessage = (s: Slot, m: FromWorker): void => {
    if (m.type === 'failed') return fail(new Error(`normalizing worker failed: ${m.message}`));
    if (m.type === 'learned') {
      learned[m.id] = { snap: m.snap, error: m.error };
      if (m.cached) { const st = jobs.find((j) => j.job.file === toLearn[m.id] && j.job.kind === 'json'); if (st) st.keptBy = s; }
      dispatch(s);
      if (--learnPending === 0) firstPassDone();
    } else if (m.type === 'part') {
      // A piece of a large JSON input: a job of its own, after the input's earlier parts.
      const p = byId.get(m.id)!;
      // Enough text waits already: the reader parses this part itself (it never waits on others).
      const itself = partChars + m.chars > PART_CAP;
      const st = state({ kind: 'part', file: p.job.file, format: opts.format, items: itself ? [] : m.items, chars: m.chars }, false);
      st.parent = p;
      p.parts = (p.parts ?? 0) + 1;
      if (opts.stats) opts.stats.parts = (opts.stats.parts ?? 0) + 1;
      let at = jobs.indexOf(p) + 1;
      while (at < jobs.length && jobs[at].parent === p) at++;
      jobs.splice(at, 0, st);
      if (!itself) {
        partChars += m.chars;
        send(s, { type: 'part-taken', id: m.id, run: undefined });
        for (const x of slots) if (!x.task) dispatch(x);
      } else {
        st.dispatched = true;
        st.slot = s;
        send(s, { type: 'part-taken', id: m.id, run: st.id });
      }
    } else if (m.type === 'batch') {
      const st = byId.get(m.id)!;
      if (m.batch.provisional) {
        // Ran before the first pass ended and asked what it teaches: again, with the final knowledge.
        st.dispatched = false;
        st.needsKnowledge = true;
        if (opts.stats) opts.stats.redone++;
        st.slot = undefined;
        send(s, { type: 'ack', id: m.id });
        releaser(s, m.batch)();
        return;
      }
      const size = m.batch.ndjson.byteLength;
      // The current job's batches are taken at once; others wait, acknowledged only under the cap.
      const ahead = st !== jobs[current];
      const deferred = ahead && held + size > HELD_CAP;
      if (ahead) held += size;
      st.batches.push({ batch: m.batch, size, held: ahead, deferred, release: releaser(s, m.batch) });
      if (!deferred) send(s, { type: 'ack', id: m.id });
    } else if (m.type === 'done') {
      const st = byId.get(m.id)!;
      if (st.slot === s) {
        st.done = true;
        if (m.unreadable !== undefined) st.unreadable = m.unreadable;
      }
      // A reader that parsed one of its own parts is still busy with its input.
      if (s.task?.kind === 'job' && s.task.index === m.id) dispatch(s);
    }
    signal();
  };

  const spawn = (): Slot => {
    const worker = warm.shift() ?? new Worker(WORKER, { resourceLimits: LIMITS });
    worker.ref();
    const early = warmErrors.get(worker);
    if (early) fail(new Error(`normalizing worker failed: ${early.stack ?? early.message}`));
    const s: Slot = { worker };
    worker.on('message', (m: FromWorker) => onMessage(s, m));
    worker.on('error', (e) => fail(new Error(`normalizing worker failed: ${e.stack ?? e.message}`)));
    worker.postMessage({ type: 'setup', setup } satisfies ToWorker);
    if (knowledge) worker.postMessage({ type: 'knowledge', snap: knowledge } satisfies ToWorker);
    return s;
  };

  try {
    for (let i = 0; i < n; i++) slots.push(spawn());
    for (const s of slots) dispatch(s);
    while (current < jobs.length) {
      if (failure) throw failure;
      const st = jobs[current];
      const b = st.batches.shift();
      if (b) {
        if (b.held) held -= b.size;
        if (b.deferred && st.slot) send(st.slot, { type: 'ack', id: st.id });
        // The workers' messages in first ('done': their next job): while batches are waiting, handing
        // them out and detecting on them never returns to the event loop, and a worker that finished a
        // job waited that long for the next (over ../shared, workers idle between jobs 0.5-1.2 s in all;
        // 0.3-0.6 s with this).
        await new Promise<void>((r) => setImmediate(r));
        yield { kind: 'batch', file: st.job.file, batch: b.batch, release: b.release };
        continue;
      }
      // A split input yields nothing itself: its parts follow it, and its reader may still be adding some.
      if (st.parts !== undefined && !st.parent) { current++; continue; }
      if (!st.done) {
        // The output waits for a job no worker has, and every worker is busy (possibly waiting for
        // acknowledgements of output ahead of its turn): let them all go on, so that one becomes free.
        if (!st.dispatched && slots.every((s) => s.task)) releaseDeferred();
        await waitForSignal();
        continue;
      }
      // The input's end (and its read error, if any) come after its last part, once its reader is done.
      const owner = st.parent ?? st;
      const last = !st.parent || jobs[current + 1]?.parent !== st.parent;
      if (st.parent && last && !st.parent.done) { await waitForSignal(); continue; }
      byId.delete(st.id);
      if (st.parent && last) byId.delete(st.parent.id);
      if (st.job.kind === 'unreadable') yield { kind: 'unreadable', file: st.job.file, error: st.job.error };
      else if (st.parent && st.unreadable !== undefined) yield { kind: 'unreadable', file: st.job.file, error: st.unreadable };
      if (last && owner.unreadable !== undefined) yield { kind: 'unreadable', file: st.job.file, error: owner.unreadable };
      if (last && owner.lastOfFile) yield { kind: 'file-done', file: st.job.file, bytes: sizes.get(st.job.file) ?? 0 };
      current++;
      // Free workers may now reach jobs that were outside what could run.
      for (const s of slots) if (!s.task) dispatch(s);
    }
    if (failure) throw failure;
  } finally {
    closed = true;
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}
