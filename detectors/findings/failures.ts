// Bursts of WinRM authentication failures: WinRM/Operational 161/162 (authentication failed), 142 with
// access denied, and 4625 network logons failing on a host that serves WinRM. Password spraying against
// SMB on a host with no WinRM is not this rule's business.
import type { NormalizedEvent } from '../../schemas/event.js';
import { shortHost } from './hosts.js';
import { evidenceOf, EvidenceKeeper, type FindingDraft } from './types.js';

const MAX_TIMES = 200_000;

interface HostFailures { host: string; times: number[]; winrmTimes: number[]; evidence: EvidenceKeeper; winrm: number; logon: number; users: Set<string>; sources: Set<string> }

/** Server-side WinRM events, inbound 5985/5986, ServerRemoteHost: the host serves WinRM. */
function servesWinrm(e: NormalizedEvent): boolean {
  const id = e.winlog.event_id;
  if ((id === 91 || id === 169) && e.winlog.channel.toLowerCase() === 'microsoft-windows-winrm/operational') return true;
  const dp = e.destination?.port;
  if ((dp === 5985 || dp === 5986) && e.network?.direction === 'inbound') return true;
  return e.powershell?.host?.name === 'ServerRemoteHost';
}

/** A WinRM authentication failure, a failed network logon, or neither. */
function failure(e: NormalizedEvent): 'winrm' | 'logon' | undefined {
  const id = e.winlog.event_id, ch = e.winlog.channel.toLowerCase();
  if (ch === 'microsoft-windows-winrm/operational' && (id === 161 || id === 162 || (id === 142 && /^(?:5|0x5|2150858770|0x80338012)$/i.test(e.winrm?.error_code ?? '')))) return 'winrm';
  if (ch === 'security' && id === 4625 && e.winlog.logon?.type_code === 3) return 'logon';
  return undefined;
}

export class FailureBursts {
  private readonly byHost = new Map<string, HostFailures>();
  /** Hosts seen serving WinRM: server-side WinRM events, inbound 5985/5986, ServerRemoteHost. */
  private readonly winrmHosts = new Set<string>();

  /** Whether the event shows a WinRM server or a failure: observe() ignores everything else. */
  static wants(e: NormalizedEvent): boolean {
    return servesWinrm(e) || failure(e) !== undefined;
  }

  observe(e: NormalizedEvent): void {
    const host = shortHost(e.host.name);
    if (servesWinrm(e)) this.winrmHosts.add(host);
    const kind = failure(e);
    if (kind === undefined) return;
    const winrmFail = kind === 'winrm';
    let h = this.byHost.get(host);
    if (!h) { h = { host: e.host.name, times: [], winrmTimes: [], evidence: new EvidenceKeeper(), winrm: 0, logon: 0, users: new Set(), sources: new Set() }; this.byHost.set(host, h); }
    if (h.times.length >= MAX_TIMES) return;
    h.times.push(Date.parse(e['@timestamp']));
    if (winrmFail) h.winrmTimes.push(Date.parse(e['@timestamp']));
    h.evidence.add(evidenceOf(e));
    if (winrmFail) h.winrm++; else h.logon++;
    const u = e.user?.name ?? e.winrm?.user;
    if (u && h.users.size < 50) h.users.add(u);
    const src = e.source?.ip ?? e.winrm?.client_ip;
    if (src && h.sources.size < 50) h.sources.add(src);
  }

  drafts(count: number, windowS: number, sessionHosts: ReadonlySet<string>): FindingDraft[] {
    const out: FindingDraft[] = [];
    for (const [key, h] of [...this.byHost].sort((a, b) => a[0].localeCompare(b[0]))) {
      // 4625s count only on a WinRM host; WinRM's own failure events always do.
      const winrmHost = this.winrmHosts.has(key) || sessionHosts.has(key);
      const times = (winrmHost ? h.times : h.winrmTimes).slice().sort((a, b) => a - b);
      let best = 0, bestStart = 0;
      for (let i = 0, j = 0; j < times.length; j++) {
        while (times[j] - times[i] > windowS * 1000) i++;
        if (j - i + 1 > best) { best = j - i + 1; bestStart = times[i]; }
      }
      if (best < count) continue;
      out.push({
        rule: 'auth.winrm-failures', key: `${key}|${new Date(bestStart).toISOString()}`,
        title: `Burst of WinRM authentication failures on ${h.host}`, severity: 'medium', category: 'credential-access', attack: ['T1110'],
        summary: `${best} failed authentications within ${windowS} s on ${h.host}, a WinRM host (${h.winrm} WinRM failure event(s), ${h.logon} failed network logon(s) in all), from ${[...h.sources].sort().slice(0, 10).join(', ') || 'unknown sources'} for ${[...h.users].sort().slice(0, 10).join(', ') || 'unknown users'}: password guessing or spraying against remoting.`,
        hosts: [h.host], evidence: h.evidence.kept, dropped: h.evidence.dropped,
      });
    }
    return out;
  }
}
