// Reading the shared corpus: the reference dumps and the robustness expectations.

import { readFileSync, readdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { sharedPath } from './shared.js';
import type { EvtxRecord } from '../../ingest/evtx/index.js';

export function corpusFiles(): string[] {
  return readdirSync(sharedPath('corpus')).filter((f) => f.endsWith('.evtx')).sort();
}

export function referenceRecords(file: string): EvtxRecord[] {
  const text = gunzipSync(readFileSync(sharedPath('corpus', file + '.reference.ndjson.gz'))).toString('utf8');
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as EvtxRecord);
}

/** Rows of a TSV file with a header line, as objects. */
export function readTsv(path: string): Record<string, string>[] {
  const [head, ...rows] = readFileSync(path, 'utf8').trim().split('\n');
  const cols = head.split('\t');
  return rows.map((r) => {
    const cells = r.split('\t');
    return Object.fromEntries(cols.map((c, i) => [c, cells[i] ?? '']));
  });
}
