// What the file pipeline gives for some inputs, gathered for comparison: on this thread (normalizeFiles)
// and on the worker pool (normalizeInParallel), as JSON lines so that the two compare byte for byte.
import assert from 'node:assert/strict';
import { normalizeInParallel, type ParallelOptions } from '../../ingest/parallel/pool.js';
import { normalizeFiles, type PipelineOptions } from '../../ingest/pipeline.js';
import type { NormalizedEvent } from '../../schemas/event.js';

export const INGESTED = '2026-01-01T00:00:00.000Z';

export interface Normalized {
  events: NormalizedEvent[];
  /** The events as JSON lines. */
  lines: string[];
  /** Rejects and warnings as JSON lines (warnings: {source, message}). */
  rejects: string[];
  warnings: string[];
  unreadable: string[];
}

/** Every item of normalizeFiles over `files`, on this thread. */
export async function normalizeAll(files: string[], opts: PipelineOptions = {}): Promise<Normalized> {
  const o: Normalized = { events: [], lines: [], rejects: [], warnings: [], unreadable: [] };
  for await (const it of normalizeFiles(files, { ingested: INGESTED, ...opts })) {
    if (it.kind === 'event') { o.events.push(it.event); o.lines.push(JSON.stringify(it.event)); }
    else if (it.kind === 'reject') o.rejects.push(JSON.stringify(it.reject));
    else if (it.kind === 'warning') o.warnings.push(JSON.stringify({ source: it.source, message: it.message }));
    else o.unreadable.push(`${it.file}: ${it.error}`);
  }
  return o;
}

/** The pool's event lines, rejects and warnings over `files`; no input may be unreadable. */
export async function poolOutput(files: string[], opts: Omit<ParallelOptions, 'ingested'> & { threads: number }): Promise<{ lines: string[]; rejects: string[]; warnings: string[] }> {
  const lines: string[] = [], rejects: string[] = [], warnings: string[] = [];
  const split = (text: string): string[] => (text === '' ? [] : text.slice(0, -1).split('\n'));
  for await (const it of normalizeInParallel(files, { ingested: INGESTED, ...opts })) {
    if (it.kind === 'batch') {
      lines.push(...split(Buffer.from(it.batch.ndjson).toString('utf8')));
      rejects.push(...split(it.batch.rejects));
      warnings.push(...split(it.batch.warnings));
      it.release();
    } else assert.notEqual(it.kind, 'unreadable', JSON.stringify(it));
  }
  return { lines, rejects, warnings };
}

/** An event with where it came from taken out (the rest must not depend on it). */
export function withoutProvenance(e: NormalizedEvent): string {
  const c = structuredClone(e);
  delete (c.hoptrail as { provenance?: unknown }).provenance;
  delete (c.log as { file?: unknown }).file;
  return JSON.stringify(c);
}
