// A logger for tests that keeps every line, so a test can assert on what the indexer said.

import type { IndexerLogger } from '../../sinks/elasticsearch/index.js';

export function collectingLogger(): IndexerLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) };
}
