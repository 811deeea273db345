// Runs fuzz cases for fuzz.test.ts on a worker thread, so that the test can enforce a deadline per case
// (a parser stuck in a loop cannot be interrupted on its own thread).

import { parentPort, workerData } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { isDeepStrictEqual } from 'node:util';
import { readEvtx, readEvtxChunks } from '../../ingest/evtx/index.js';
import { mutate } from '../support/mutate.js';

interface Job { files: string[]; cases: number; seed: number }
const job = workerData as Job;
const sources = job.files.map((f) => ({ name: f, bytes: readFileSync(f) }));

for (let i = 0; i < job.cases; i++) {
  const seed = (job.seed + i * 0x9e3779b1) >>> 0;
  const src = sources[i % sources.length];
  const { bytes, what } = mutate(src.bytes, seed);
  parentPort!.postMessage({ type: 'start', i, seed, file: src.name, what });
  let records = 0;
  let errors = 0;
  try {
    // A stream of odd-sized pieces, so that block assembly is exercised too.
    const pieces: Buffer[] = [];
    for (let p = 0; p < bytes.length; p += 40000) pieces.push(bytes.subarray(p, p + 40000));
    const objects: unknown[] = [];
    for await (const it of readEvtx(Readable.from(pieces), { name: 'fuzz', xml: i % 4 === 0 })) {
      if (it.kind === 'record') {
        records++;
        JSON.stringify(it.record);
        if (i % 4 === 1) objects.push(it.recovered ? { ...it.record, recovered: true } : it.record);
      } else {
        errors++;
        // A typed error is damage in the input; anything else is a bug of ours that the fuzzer found.
        if (it.message.includes('internal error')) parentPort!.postMessage({ type: 'crash', i, seed, file: src.name, what, error: it.message });
      }
    }
    if (i % 4 === 1) {
      // The JSON lines path (its own byte writer): no internal error, and the lines are the records above.
      const lines: unknown[] = [];
      for await (const batch of readEvtxChunks(Readable.from([bytes]), { name: 'fuzz', serialize: 'jsonl', bytes: true })) {
        for (const it of batch.items) {
          if (it.kind === 'error' && it.message.includes('internal error')) parentPort!.postMessage({ type: 'crash', i, seed, file: src.name, what, error: it.message });
        }
        for (const line of (batch.bytes ?? Buffer.alloc(0)).toString('utf8').split('\n')) {
          if (line !== '') lines.push(JSON.parse(line));
        }
      }
      if (!isDeepStrictEqual(lines, objects)) {
        const k = lines.findIndex((l, n) => !isDeepStrictEqual(l, objects[n]));
        parentPort!.postMessage({ type: 'crash', i, seed, file: src.name, what, error: `JSON lines differ from the records (${lines.length} vs ${objects.length}; first at ${k}: ${JSON.stringify(lines[k])} vs ${JSON.stringify(objects[k])})` });
      }
    }
  } catch (e) {
    parentPort!.postMessage({ type: 'crash', i, seed, file: src.name, what, error: (e as Error).stack ?? String(e) });
    process.exit(1);
  }
  parentPort!.postMessage({ type: 'done', i, records, errors, heap: process.memoryUsage().heapUsed });
}
parentPort!.postMessage({ type: 'finished' });
