// The schema's plain values, without zod: code on every start-up path (the normalizer, the CLI's flags)
// takes them from here, as loading zod costs each thread about 50 ms.

/** Bump on any change a consumer could notice (field added, renamed, retyped). */
export const SCHEMA_VERSION = '1.0.0';

/** Every input shape hoptrail reads. */
export const INPUT_FORMATS = ['evtx', 'winlogbeat-ecs', 'winlogbeat6', 'nxlog', 'export-winevents', 'hoptrail-dump', 'event-xml-json'] as const;
