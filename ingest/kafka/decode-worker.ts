// Worker-thread entry of the stream's decoding pool (ingest/kafka/workers.ts). Messages arrive in the
// order the pool sends them: `parse` may run ahead, `learn` deltas come in batch order, and `normalize`
// of batch k comes right after batch k's delta, so it sees what batches 0..k taught, as the pool does.
import { parentPort } from 'node:worker_threads';
import { ClockKnowledge, Normalizer } from '../normalize/index.js';
import type { Parsed } from './decode.js';
import { normalizeChunk, parseChunk } from './batch.js';
import type { FromDecoder, ToDecoder, DecoderSetup } from './workers.js';

const port = parentPort!;
let setup: DecoderSetup | undefined;
let knowledge = new ClockKnowledge();
let norm = new Normalizer({ knowledge });
/** Chunks read and waiting for their batch's knowledge. */
const waiting = new Map<number, { parsed: Parsed[]; topic: string; partition: number; offsets: string[] }>();

function unpack(bytes: Uint8Array, ends: Int32Array): (Uint8Array | null)[] {
  const values: (Uint8Array | null)[] = [];
  for (let i = 0, at = 0; i < ends.length; i++) {
    const end = ends[i];
    if (end < 0) { values.push(null); continue; }
    values.push(bytes.subarray(at, end));
    at = end;
  }
  return values;
}

// Nothing is transferred (see workers.ts): a detached buffer would slow this thread's typed-array code.
const post = (m: FromDecoder): void => port.postMessage(m);

port.on('message', (m: ToDecoder) => {
  try {
    switch (m.type) {
      case 'setup':
        setup = m.setup;
        norm = new Normalizer({ ingested: setup.ingested, knowledge });
        break;
      case 'knowledge':
        knowledge = ClockKnowledge.from(m.snap);
        norm = new Normalizer({ ingested: setup?.ingested, knowledge });
        break;
      case 'learn':
        knowledge.merge(m.delta);
        break;
      case 'parse': {
        const { parsed, learned } = parseChunk(unpack(m.bytes, m.ends), m.topic, setup!.maxBytes, setup!.ship);
        waiting.set(m.id, { parsed, topic: m.topic, partition: m.partition, offsets: m.offsets });
        post({ type: 'learned', id: m.id, learned });
        break;
      }
      case 'decode': {
        // The one worker (DecodePool.solo): every delta is its own, learned in order.
        const { parsed, learned } = parseChunk(unpack(m.bytes, m.ends), m.topic, setup!.maxBytes, setup!.ship);
        knowledge.merge(learned.delta);
        const batch = normalizeChunk(norm, parsed, m.topic, m.partition, m.offsets, setup!.ship);
        post({ type: 'decoded', id: m.id, batch, learned });
        break;
      }
      case 'normalize': {
        const w = waiting.get(m.id);
        if (!w) throw new Error(`normalize: no chunk ${m.id}`);
        waiting.delete(m.id);
        const batch = normalizeChunk(norm, w.parsed, w.topic, w.partition, w.offsets, setup!.ship);
        post({ type: 'decoded', id: m.id, batch });
        break;
      }
    }
  } catch (e) {
    post({ type: 'failed', message: (e as Error).stack ?? String(e) });
  }
});
