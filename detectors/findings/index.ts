// Public face of the findings rules: one call for a whole hunt, the streaming collector, `--fail-on`.
import type { NormalizedEvent } from '../../schemas/event.js';
import { FindingsCollector, type FindingsInput } from './collector.js';
import type { RulesConfig } from './config.js';
import { DEFAULT_CONFIG } from './defaults.js';
import { isSeverity, severityRank, type Finding, type Severity } from './types.js';

export { FindingsCollector, sortFindings, type FindingsInput } from './collector.js';
// The rules file's parser is config.js's own: it loads zod, which a hunt without --rules does not need.
export { DEFAULT_CONFIG } from './defaults.js';
export type { RulesConfig } from './config.js';
export { maskSecrets, findSecrets, MASK } from './secrets.js';
export { decodeLayers, decodeUtf16Base64 } from './decode.js';
export { SEVERITIES, isSeverity, severityRank, type Finding, type Severity } from './types.js';
export type { SessionLike, HopLike, ChainLike, FanOutLike, EvidenceRef } from './session-shape.js';

/** Every finding for a set of events and the sessions built from them (events in any order). */
export function findingsFor(events: Iterable<NormalizedEvent>, input: FindingsInput, config: RulesConfig = DEFAULT_CONFIG): Finding[] {
  const c = new FindingsCollector(config);
  for (const e of events) c.push(e);
  return c.finish(input);
}

/** `--fail-on SEVERITY`: 3 when some finding is at or above the severity, else 0. */
export function exitCodeFor(findings: readonly Pick<Finding, 'severity'>[], severity: Severity): 0 | 3 {
  const min = severityRank(severity);
  return findings.some((f) => severityRank(f.severity) >= min) ? 3 : 0;
}

/** Parses a `--fail-on` value; undefined when it names no severity. */
export function parseSeverity(s: string): Severity | undefined {
  const v = s.trim().toLowerCase();
  return isSeverity(v) ? v : undefined;
}
