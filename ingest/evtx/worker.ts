// Worker-thread entry: parses the chunks the pool sends and posts the items back.

import { parentPort } from 'node:worker_threads';
import { parseChunk, parseChunkText } from './chunk.js';
import type { ChunkJob } from './pool.js';

parentPort?.on('message', (job: ChunkJob) => {
  const b = Buffer.from(job.buf, 0, job.length);
  // Serialized text crosses threads far more cheaply than structured-cloned records.
  const batch = job.serialize
    ? parseChunkText(b, job.file, job.chunkIndex, job.offset, job.opts, job.serialize)
    : { items: parseChunk(b, job.file, job.chunkIndex, job.offset, job.opts) };
  parentPort!.postMessage({ id: job.id, batch });
});
