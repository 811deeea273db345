// Worker-thread entry: parses the chunks the pool sends and posts the items back.

import { parentPort } from 'node:worker_threads';
import { parseChunk, serializeChunk } from './chunk.js';
import type { ChunkJob } from './pool.js';

parentPort?.on('message', (job: ChunkJob) => {
  const b = Buffer.from(job.buf, 0, job.length);
  const items = parseChunk(b, job.file, job.chunkIndex, job.offset, job.opts);
  // Serialized text crosses threads far more cheaply than structured-cloned records.
  const batch = job.serialize ? serializeChunk(items, job.serialize) : { items };
  parentPort!.postMessage({ id: job.id, batch });
});
