// The EVTX parser's public surface.

export { readEvtx, checkFileHeader, FILE_HEADER_SIZE, type ReadOptions, type EvtxReadItem } from './reader.js';
export { parseChunk, CHUNK_SIZE, type ChunkOptions, type ChunkItem, type ChunkRecordItem } from './chunk.js';
export type { EvtxRecord, EvtxItem, EvtxRecordItem, EvtxErrorItem, EvtxLocation, EventDataKind } from './record.js';
