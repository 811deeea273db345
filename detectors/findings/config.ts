// Rule settings: per-rule enable/severity, allow-lists and thresholds, read from a JSON rules file.
// The defaults suit a first look at unknown evidence: every rule on, commands checked only where they ran
// in (or launched) a remote session, nothing allow-listed.
import { z } from 'zod';
import { SEVERITIES } from './types.js';

const Sev = z.enum(SEVERITIES);
const names = z.array(z.string().min(1)).default([]);

export const RulesFile = z.strictObject({
  rules: z.record(z.string(), z.strictObject({ enabled: z.boolean().optional(), severity: Sev.optional() })).default({}),
  allow: z.strictObject({
    /** Findings whose every host is listed are dropped (short names or FQDNs, case-insensitive). */
    hosts: names,
    /** Sessions from these hosts (admin jump boxes) raise no remote-execution finding. */
    source_hosts: names,
    destination_hosts: names,
    /** Users (`name` or `DOMAIN\name`) whose sessions and commands raise nothing. */
    users: names,
    /** Regular expressions (case-insensitive): commands matching one raise no command finding. */
    commands: names,
    /** Windows Event Forwarding collectors: machine-account / NETWORK SERVICE traffic to them is benign. */
    wef_collectors: names,
    /** Finding IDs already triaged. */
    findings: names,
  }).prefault({}),
  options: z.strictObject({
    /** `remote`: command rules look only at commands of remote sessions (and the remoting calls that start
     * them); `any`: every command line and script block. */
    command_scope: z.enum(['remote', 'any']).default('remote'),
    /** WinRM/4625 failures on one host within the window that make a burst. */
    failure_burst_count: z.number().int().min(2).default(10),
    failure_burst_window_s: z.number().int().min(1).default(300),
    /** Log clearing this close to a session on the same host is reported. */
    log_clear_window_s: z.number().int().min(0).default(3600),
    /** Decoded payload characters kept in a finding. */
    decoded_max_chars: z.number().int().min(64).max(65536).default(2000),
  }).prefault({}),
});
export type RulesConfig = z.output<typeof RulesFile>;

export { DEFAULT_CONFIG, ruleSeverity } from './defaults.js';

export class RulesConfigError extends Error {}

/** Parses a rules file's text; throws RulesConfigError naming the first bad field. */
export function parseRulesConfig(text: string): RulesConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new RulesConfigError(`rules file is not JSON: ${(e as Error).message}`);
  }
  const r = RulesFile.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new RulesConfigError(`rules file: ${i.path.join('.') || '(top)'}: ${i.message}`);
  }
  for (const c of r.data.allow.commands) {
    try { new RegExp(c, 'i'); } catch { throw new RulesConfigError(`rules file: allow.commands: bad regular expression ${JSON.stringify(c)}`); }
  }
  return r.data;
}
