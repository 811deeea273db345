// Normalization: any adapted record (SourceRecord) to one NormalizedEvent or a reason.
export { Normalizer, normalizeEvtxRecord, fastCheck, type NormalizeOptions, type NormalizeResult, type Validation } from './normalize.js';
export { ClockKnowledge, parseZone, repairTime, type Zone } from './clock.js';
export { canonicalChannel } from './extract.js';
export type { SourceRecord, TimeKind } from './source.js';
