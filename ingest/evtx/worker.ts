// Worker-thread entry: parses the chunks the pool sends and posts the items back. Nothing is transferred
// (see pool.ts): chunks come in shared memory, and JSON lines go back in shared memory.

import { parentPort } from 'node:worker_threads';
import { parseChunk, parseChunkBytes, parseChunkText } from './chunk.js';
import { releaseBytes, shareOutput } from './jsonout.js';
import type { ChunkJob } from './pool.js';

shareOutput();

parentPort?.on('message', (job: ChunkJob) => {
  const b = Buffer.from(job.buf, 0, job.length);
  // Serialized records cross threads far more cheaply than structured-cloned ones.
  if (job.serialize === 'jsonl') {
    if (job.out !== undefined) releaseBytes(Buffer.from(job.out));
    parentPort!.postMessage({ id: job.id, batch: parseChunkBytes(b, job.file, job.chunkIndex, job.offset, job.opts) });
    return;
  }
  const batch = job.serialize
    ? parseChunkText(b, job.file, job.chunkIndex, job.offset, job.opts, job.serialize)
    : { items: parseChunk(b, job.file, job.chunkIndex, job.offset, job.opts) };
  parentPort!.postMessage({ id: job.id, batch });
});

// The pool may hold chunks back until a worker can start on them at once.
parentPort?.postMessage({ ready: true });
