// The public face of schemas/: the normalized event, its provenance, rejects and the schema version.
export { SCHEMA_VERSION, NormalizedEvent, Provenance, ClockRepair, InputFormat, Reject } from './event.js';
