// Files in, normalized JSON lines and the events detectors need out, on worker threads, in input order.
// The same two passes as ingest/pipeline.ts (learn clocks and FQDNs from JSON inputs, then normalize), with
// each pass spread over the workers: large EVTX files are cut into block ranges, JSON inputs go whole.
// Output order never depends on which worker finished first; memory is bounded by acknowledging a batch
// that is ahead of its turn only while the batches held stay under a cap.
import { availableParallelism } from 'node:os';
import { stat } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { InputFormat } from '../../schemas/event.js';
import { ClockKnowledge, type KnowledgeSnapshot } from '../normalize/clock.js';
import { needsLearning } from '../pipeline.js';
import { isEvtxPath } from '../sources.js';
import { planEvtx } from './evtx-range.js';
import type { FromWorker, Job, JobBatch, ToWorker, WorkerSetup } from './protocol.js';

export type { JobBatch } from './protocol.js';

/** 64 KiB blocks per EVTX job: about 8 000 records, small enough to balance two threads on one file. */
const RANGE_BLOCKS = 32;
/** Bytes of JSON lines held ahead of their turn before workers must wait. */
const HELD_CAP = 64 << 20;

export interface ParallelOptions {
  format?: InputFormat;
  tz?: string;
  validate?: 'fast' | 'zod' | 'none';
  ingested?: string;
  /** Worker threads (default: the cores available, at most 4). */
  threads?: number;
  /** Ship every event as an object (an Elasticsearch sink needs them all), not only what detectors use. */
  shipAll?: boolean;
}

export type ParallelItem =
  | { kind: 'batch'; file: string; batch: JobBatch }
  /** A file is finished (all its jobs); `bytes` is its size, for progress. */
  | { kind: 'file-done'; file: string; bytes: number }
  | { kind: 'unreadable'; file: string; error: string };

export function defaultThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

interface Slot { worker: Worker; busy: boolean }

interface JobState {
  job: Job | { kind: 'unreadable'; file: string; error: string };
  lastOfFile: boolean;
  /** held: counted against the cap (arrived ahead of its turn); deferred: not yet acknowledged. */
  batches: { batch: JobBatch; size: number; held: boolean; deferred: boolean }[];
  done: boolean;
  unreadable?: string;
  slot?: Slot;
}

/** Normalizes `files` (already expanded) on worker threads; yields their output in input order. */
export async function* normalizeInParallel(files: string[], opts: ParallelOptions = {}): AsyncGenerator<ParallelItem> {
  const n = Math.max(1, opts.threads ?? defaultThreads());
  const setup: WorkerSetup = { tz: opts.tz, ingested: opts.ingested ?? new Date().toISOString(), validate: opts.validate ?? 'fast', ship: opts.shipAll ? 'all' : 'relevant' };
  const slots: Slot[] = [];
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const signal = (): void => { const w = wake; wake = undefined; w?.(); };
  const waitForSignal = (): Promise<void> => new Promise((r) => { wake = r; });
  const onMessage = new Map<Worker, (m: FromWorker) => void>();

  for (let i = 0; i < n; i++) {
    const worker = new Worker(new URL('./worker.js', import.meta.url));
    const slot: Slot = { worker, busy: false };
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'failed') { failure ??= new Error(`normalizing worker failed: ${m.message}`); signal(); return; }
      onMessage.get(worker)?.(m);
    });
    worker.on('error', (e) => { failure ??= new Error(`normalizing worker failed: ${e.stack ?? e.message}`); signal(); });
    worker.on('exit', (code) => { if (code !== 0) { failure ??= new Error(`normalizing worker exited with code ${code}`); signal(); } });
    worker.postMessage({ type: 'setup', setup } satisfies ToWorker);
    slots.push(slot);
  }
  const send = (s: Slot, m: ToWorker): void => s.worker.postMessage(m);

  try {
    // Pass 1: learn from the JSON inputs, merged in input order (what one sequential pass would learn).
    const toLearn = files.filter((f) => needsLearning(f, opts.format));
    const learned: ({ snap?: KnowledgeSnapshot; error?: string } | undefined)[] = toLearn.map(() => undefined);
    let next = 0, pending = 0;
    const dispatchLearn = (s: Slot): void => {
      if (next >= toLearn.length) { s.busy = false; return; }
      const id = next++;
      s.busy = true;
      pending++;
      onMessage.set(s.worker, (m) => {
        if (m.type !== 'learned') return;
        learned[m.id] = { snap: m.snap, error: m.error };
        pending--;
        dispatchLearn(s);
        signal();
      });
      send(s, { type: 'learn', id, file: toLearn[id], format: opts.format });
    };
    for (const s of slots) dispatchLearn(s);
    while (pending > 0 && !failure) await waitForSignal();
    if (failure) throw failure;
    const knowledge = new ClockKnowledge();
    const failed = new Map<string, string>();
    for (let i = 0; i < toLearn.length; i++) {
      const r = learned[i]!;
      if (r.error !== undefined) failed.set(toLearn[i], r.error);
      else if (r.snap) knowledge.merge(r.snap);
    }
    const snap = knowledge.snapshot();
    for (const s of slots) send(s, { type: 'knowledge', snap });

    // Pass 2: jobs in input order.
    const jobs: JobState[] = [];
    const sizes = new Map<string, number>();
    for (const f of files) {
      const error = failed.get(f);
      // A file the first pass could not read is reported in its place, and not read again.
      if (error !== undefined) { jobs.push({ job: { kind: 'unreadable', file: f, error }, lastOfFile: true, batches: [], done: true }); continue; }
      sizes.set(f, (await stat(f).catch(() => ({ size: 0 }))).size);
      if (!isEvtxPath(f, opts.format)) { jobs.push({ job: { kind: 'json', file: f, format: opts.format }, lastOfFile: true, batches: [], done: false }); continue; }
      const plan = await planEvtx(f);
      if (plan.fatal !== undefined) { jobs.push({ job: { kind: 'unreadable', file: f, error: plan.fatal }, lastOfFile: true, batches: [], done: true }); continue; }
      if (plan.blocks === 0) { jobs.push({ job: { kind: 'evtx', file: f, from: 0, to: 0 }, lastOfFile: true, batches: [], done: true }); continue; }
      for (let from = 0; from < plan.blocks; from += RANGE_BLOCKS) {
        const to = Math.min(plan.blocks, from + RANGE_BLOCKS);
        jobs.push({ job: { kind: 'evtx', file: f, from, to }, lastOfFile: to === plan.blocks, batches: [], done: false });
      }
    }

    let current = 0, nextJob = 0, held = 0;
    const dispatch = (s: Slot): void => {
      while (nextJob < jobs.length && jobs[nextJob].done) nextJob++;
      if (nextJob >= jobs.length) { s.busy = false; return; }
      const id = nextJob++;
      const st = jobs[id];
      st.slot = s;
      s.busy = true;
      onMessage.set(s.worker, (m) => {
        if (m.type === 'batch') {
          const size = m.batch.ndjson.byteLength;
          // The current job's batches are taken at once; others wait, acknowledged only under the cap.
          const ahead = m.id !== current;
          const deferred = ahead && held + size > HELD_CAP;
          if (ahead) held += size;
          jobs[m.id].batches.push({ batch: m.batch, size, held: ahead, deferred });
          if (!deferred) send(s, { type: 'ack', id: m.id });
        } else if (m.type === 'done') {
          jobs[m.id].done = true;
          if (m.unreadable !== undefined) jobs[m.id].unreadable = m.unreadable;
          dispatch(s);
        }
        signal();
      });
      send(s, { type: 'job', id, job: st.job as Job });
    };
    for (const s of slots) dispatch(s);

    while (current < jobs.length) {
      if (failure) throw failure;
      const st = jobs[current];
      const b = st.batches.shift();
      if (b) {
        if (b.held) held -= b.size;
        if (b.deferred) send(st.slot!, { type: 'ack', id: current });
        yield { kind: 'batch', file: st.job.file, batch: b.batch };
        continue;
      }
      if (!st.done) { await waitForSignal(); continue; }
      if (st.job.kind === 'unreadable') yield { kind: 'unreadable', file: st.job.file, error: st.job.error };
      else if (st.unreadable !== undefined) yield { kind: 'unreadable', file: st.job.file, error: st.unreadable };
      if (st.lastOfFile) yield { kind: 'file-done', file: st.job.file, bytes: sizes.get(st.job.file) ?? 0 };
      current++;
    }
  } finally {
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}
