// The dead-letter record of a message that could not be used: the original bytes as the value, where it
// came from and why in headers, keyed by its source position (a replay overwrites, never duplicates).
import type { MessageOrigin } from './decode.js';

export interface OutMessage {
  key: string;
  value: Buffer | string | null;
  headers?: Record<string, string>;
}

export function dlqMessage(from: MessageOrigin, value: Buffer | null, reason: string): OutMessage {
  return {
    key: `${from.topic}/${from.partition}/${from.offset}`,
    // An empty value, never null: null would be a tombstone on a compacted topic.
    value: value ?? Buffer.alloc(0),
    headers: {
      'hoptrail.reason': reason,
      'hoptrail.source.topic': from.topic,
      'hoptrail.source.partition': String(from.partition),
      'hoptrail.source.offset': from.offset,
    },
  };
}
