// Findings for a hunt: push() every normalized event as it streams by (bounded state, no I/O), then
// finish() with the sessions, hops, chains and fan-outs of the session engine. Severity, suppression and
// allow-lists from the rules file are applied last, in one place.
import type { NormalizedEvent } from '../../schemas/event.js';
import { isLoopbackSession, isWefFlow, isWefSession } from './benign.js';
import type { RulesConfig } from './config.js';
import { DEFAULT_CONFIG, ruleSeverity } from './defaults.js';
import { credentialDrafts } from './credentials.js';
import { FailureBursts } from './failures.js';
import { hostListed, shortHost, userListed } from './hosts.js';
import { LogClears } from './logclear.js';
import { obfuscationDrafts } from './obfuscation.js';
import { PostureFindings } from './posture.js';
import { chainDraft, fanoutDraft, remoteExecDraft } from './remote-exec.js';
import { RemoteProcesses } from './scope.js';
import { sessionUser, type ChainLike, type FanOutLike, type HopLike, type SessionLike } from './session-shape.js';
import { Sightings } from './sightings.js';
import { makeFinding, severityRank, type Finding, type FindingDraft } from './types.js';

export interface FindingsInput {
  sessions: readonly SessionLike[];
  hops?: readonly HopLike[];
  chains?: readonly ChainLike[];
  fanouts?: readonly FanOutLike[];
}

export class FindingsCollector {
  private readonly sightings = new Sightings();
  private readonly procs = new RemoteProcesses();
  private readonly posture = new PostureFindings();
  private readonly failures = new FailureBursts();
  private readonly clears = new LogClears();
  private readonly wefIps = new Set<string>();

  constructor(private readonly cfg: RulesConfig = DEFAULT_CONFIG) {}

  /**
   * Whether push(e) could change anything. Workers that normalize send only these events (and the
   * session engine's) to the thread that collects: the others would be ignored here anyway.
   */
  static wants(e: NormalizedEvent): boolean {
    return Sightings.wants(e) || RemoteProcesses.wants(e) || PostureFindings.wants(e) || FailureBursts.wants(e) || LogClears.wants(e) || isWefFlow(e);
  }

  push(e: NormalizedEvent): void {
    this.sightings.observe(e);
    this.procs.observe(e);
    this.posture.observe(e);
    this.failures.observe(e);
    this.clears.observe(e);
    if (isWefFlow(e) && e.destination?.ip && this.wefIps.size < 1000) this.wefIps.add(e.destination.ip);
  }

  /** Command texts not examined because the collector's memory caps were reached (say so to the user). */
  stats(): { sightings_overflow: number } {
    return { sightings_overflow: this.sightings.overflow };
  }

  finish(input: FindingsInput): Finding[] {
    const cfg = this.cfg;
    const collectors = { hosts: cfg.allow.wef_collectors, ips: this.wefIps };
    // Benign WinRM (event forwarding, loopback) and allow-listed sessions are out before any rule runs.
    const sessions = input.sessions.filter((s) => !isLoopbackSession(s) && !isWefSession(s, collectors));
    const allowedSession = (s: SessionLike): boolean =>
      hostListed(cfg.allow.source_hosts, s.source.host) || hostListed(cfg.allow.destination_hosts, s.destination.host) || userListed(cfg.allow.users, sessionUser(s));
    const live = sessions.filter((s) => !allowedSession(s));
    const byId = new Map(live.map((s) => [s.session_id, s]));
    const hops = input.hops ?? [];

    const drafts: FindingDraft[] = [];
    for (const s of live) drafts.push(remoteExecDraft(s));
    for (const c of input.chains ?? []) if (c.session_ids.every((id) => byId.has(id))) drafts.push(chainDraft(c, byId, hops));
    for (const f of input.fanouts ?? []) if (f.session_ids.filter((id) => byId.has(id)).length >= 3) drafts.push(fanoutDraft(f, byId, hops));

    const cmdRe = cfg.allow.commands.map((c) => new RegExp(c, 'i'));
    const sightings = this.sightings.all().filter((s) => !cmdRe.some((r) => r.test(s.text)) && ![...s.users].some((u) => userListed(cfg.allow.users, u)));
    const anyScope = cfg.options.command_scope === 'any';
    drafts.push(...credentialDrafts(sightings, live, this.procs, anyScope));
    drafts.push(...obfuscationDrafts(sightings, live, this.procs, anyScope, cfg.options.decoded_max_chars));

    this.posture.fromSightings(sightings);
    this.posture.fromSessions(live);
    drafts.push(...this.posture.drafts());
    const sessionHosts = new Set(live.map((s) => shortHost(s.destination.host)).filter((h) => h));
    drafts.push(...this.failures.drafts(cfg.options.failure_burst_count, cfg.options.failure_burst_window_s, sessionHosts));
    drafts.push(...this.clears.drafts(live, cfg.options.log_clear_window_s));

    const out: Finding[] = [];
    for (const d of drafts) {
      const sev = ruleSeverity(cfg, d.rule, d.severity);
      if (!sev) continue;
      const f = makeFinding({ ...d, severity: sev });
      if (cfg.allow.findings.includes(f.finding_id)) continue;
      if (f.hosts.length > 0 && f.hosts.every((h) => hostListed(cfg.allow.hosts, h))) continue;
      out.push(f);
    }
    return sortFindings(out);
  }
}

/** Most severe first, then by time, then by ID: the same input always gives the same order. */
export function sortFindings(list: Finding[]): Finding[] {
  return list.sort((a, b) => severityRank(b.severity) - severityRank(a.severity) || (a.start < b.start ? -1 : a.start > b.start ? 1 : 0) || a.finding_id.localeCompare(b.finding_id));
}
