// The EVTX parser's public surface.

export { readEvtx, readEvtxChunks, checkFileHeader, FILE_HEADER_SIZE, type ReadOptions, type EvtxReadItem } from './reader.js';
export { WorkerPool } from './pool.js';
export { parseChunk, parseChunkBytes, serializeChunk, recordJson, CHUNK_SIZE, type ChunkOptions, type ChunkItem, type ChunkRecordItem, type ChunkBatch, type SerializeFormat } from './chunk.js';
export type { EvtxRecord, EvtxItem, EvtxRecordItem, EvtxErrorItem, EvtxLocation, EventDataKind } from './record.js';
export { releaseBytes } from './jsonout.js';
