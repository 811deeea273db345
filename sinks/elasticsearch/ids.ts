// Idempotent document IDs: the same source record always maps to the same _id, so re-running a hunt or
// replaying a stream overwrites (op index) or is refused as a duplicate (op create) instead of adding.
import { createHash } from 'node:crypto';

/** Where an event came from. Prefer the record form when it is known, also for Kafka messages: then a
 *  replay from files and from Kafka give the same ID. */
export type Provenance =
  | { host: string; channel: string; recordId: number | bigint | string }
  | { topic: string; partition: number; offset: number | bigint | string };

/**
 * sha1 over a canonical, NUL-separated form, as base64url (27 chars, safe in URLs and index APIs).
 * Host and channel are lower-cased (Windows treats them case-insensitively). `namespace` separates
 * document families that share a provenance (an event and a finding derived from it).
 */
export function docIdFromProvenance(p: Provenance, namespace = ''): string {
  const parts =
    'host' in p
      ? ['rec', p.host.trim().toLowerCase(), p.channel.trim().toLowerCase(), String(p.recordId)]
      : ['kafka', p.topic, String(p.partition), String(p.offset)];
  return createHash('sha1').update([namespace, ...parts].join('\u0000')).digest('base64url');
}

/** The same hash over arbitrary key parts (sessions, findings: their natural keys). */
export function docIdFromKey(...parts: Array<string | number | bigint>): string {
  return createHash('sha1').update(parts.map(String).join('\u0000')).digest('base64url');
}
