// The default rule settings and how a rule's settings apply, without the rules-file schema (config.ts):
// the findings collector needs only these, and hunt's workers load it (through detectors/uses.ts) for
// FindingsCollector.wants; zod's import was most of a worker's start-up.
import type { RulesConfig } from './config.js';
import type { Severity } from './types.js';

/** What config.ts's RulesFile makes of `{}` (a test holds them equal). */
export const DEFAULT_CONFIG: RulesConfig = {
  rules: {},
  allow: { hosts: [], source_hosts: [], destination_hosts: [], users: [], commands: [], wef_collectors: [], findings: [] },
  options: { command_scope: 'remote', failure_burst_count: 10, failure_burst_window_s: 300, log_clear_window_s: 3600, decoded_max_chars: 2000 },
};

/** What a rule's settings make of a finding's default severity; undefined when the rule is off. */
export function ruleSeverity(cfg: RulesConfig, rule: string, def: Severity): Severity | undefined {
  // A family entry (`posture`) applies to its rules (`posture.trustedhosts`) unless they have their own.
  const family = rule.split('.')[0];
  const own = cfg.rules[rule], fam = cfg.rules[family];
  if ((own?.enabled ?? fam?.enabled) === false) return undefined;
  return own?.severity ?? fam?.severity ?? def;
}
