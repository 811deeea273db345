// Worker-thread entry: parses the chunks the pool sends and posts the items back.

import { parentPort } from 'node:worker_threads';
import { parseChunk, parseChunkBytes, parseChunkText } from './chunk.js';
import { releaseBytes } from './jsonout.js';
import type { ChunkJob } from './pool.js';

parentPort?.on('message', (job: ChunkJob) => {
  const b = Buffer.from(job.buf, 0, job.length);
  // Serialized records cross threads far more cheaply than structured-cloned ones; JSON lines as bytes
  // are transferred, not copied.
  // The chunk's memory goes back with the answer, for the pool to copy the next chunk into (nothing
  // parsed refers to it): fewer dead buffers waiting for a collection on either thread.
  if (job.serialize === 'jsonl') {
    if (job.out !== undefined) releaseBytes(Buffer.from(job.out));
    const batch = parseChunkBytes(b, job.file, job.chunkIndex, job.offset, job.opts);
    parentPort!.postMessage({ id: job.id, batch, buf: job.buf }, [batch.bytes!.buffer as ArrayBuffer, job.buf]);
    return;
  }
  const batch = job.serialize
    ? parseChunkText(b, job.file, job.chunkIndex, job.offset, job.opts, job.serialize)
    : { items: parseChunk(b, job.file, job.chunkIndex, job.offset, job.opts) };
  parentPort!.postMessage({ id: job.id, batch, buf: job.buf }, [job.buf]);
});

// The pool may hold chunks back until a worker can start on them at once.
parentPort?.postMessage({ ready: true });
