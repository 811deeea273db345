// WinRM security posture on single events and command text (Microsoft's WinRM security considerations):
// Basic auth / unencrypted HTTP, NTLM remoting (above all to an IP address), CredSSP, TrustedHosts,
// Enable-PSRemoting and new listeners, firewall rules opening 5985/5986, remoting opened to non-admins.
import { createHash } from 'node:crypto';
import type { NormalizedEvent } from '../../schemas/event.js';
import { isServiceIdentity } from './benign.js';
import { isIp, isLoopback } from './hosts.js';
import { maskSecrets } from './secrets.js';
import { sessionUser, type EvidenceRef, type SessionLike } from './session-shape.js';
import type { Sighting } from './sightings.js';
import { clip, evidenceOf, EvidenceKeeper, type FindingDraft, type Severity } from './types.js';

interface PostureRule { title: string; severity: Severity; strong: Severity; attack: string[]; explain: string }

export const POSTURE_RULES: Record<string, PostureRule> = {
  'posture.basic-auth': { title: 'WinRM Basic authentication', severity: 'high', strong: 'high', attack: ['T1021.006'], explain: 'Basic authentication sends the password with every request; without HTTPS anyone on the path reads it.' },
  'posture.unencrypted': { title: 'Unencrypted WinRM allowed', severity: 'high', strong: 'high', attack: ['T1021.006', 'T1040'], explain: 'AllowUnencrypted lets WinRM traffic, commands and output included, cross the network in clear over HTTP.' },
  'posture.ntlm': { title: 'NTLM remoting', severity: 'low', strong: 'medium', attack: ['T1021.006'], explain: 'NTLM cannot prove the server is the one intended, and connecting by IP address forces NTLM (and TrustedHosts); relay and pass-the-hash become possible.' },
  'posture.credssp': { title: 'CredSSP delegation', severity: 'high', strong: 'high', attack: ['T1021.006', 'T1003'], explain: 'CredSSP hands the user\'s reusable credentials to the remote server (the second hop); whoever controls that server can take them.' },
  'posture.trustedhosts': { title: 'TrustedHosts changed', severity: 'medium', strong: 'high', attack: ['T1021.006'], explain: 'TrustedHosts turns off server authentication for the hosts listed; `*` turns it off for every host.' },
  'posture.enable-remoting': { title: 'PowerShell remoting enabled', severity: 'medium', strong: 'high', attack: ['T1021.006'], explain: 'Remoting was switched on here (service, listener and firewall exception), making the host reachable over WinRM.' },
  'posture.listener': { title: 'New WinRM listener', severity: 'medium', strong: 'medium', attack: ['T1021.006'], explain: 'A new WinRM listener accepts remote sessions on another address or port.' },
  'posture.firewall': { title: 'Firewall opened for WinRM', severity: 'medium', strong: 'high', attack: ['T1562.004', 'T1021.006'], explain: 'A firewall rule lets WinRM (5985/5986) in; open on the public profile, it accepts any network.' },
  'posture.non-admin-access': { title: 'Remoting opened to non-administrators', severity: 'high', strong: 'high', attack: ['T1098', 'T1021.006'], explain: 'Members of Remote Management Users, or a widened session-configuration SDDL, can connect without being administrators.' },
};

export interface PostureHit { rule: string; strong: boolean; why: string; key: string }

const RMU_SID = 'S-1-5-32-580';
const WINRM_PORT = /(?:^|[,\s])598[56](?:$|[,\s-])/;
// Windows Firewall profile mask: 1 domain, 2 private, 4 public; 0x7FFFFFFF all.
const publicProfile = (p: string | undefined): boolean => {
  const n = Number(p);
  return Number.isFinite(n) && (n & 4) !== 0;
};

/** Posture hits carried by one event's fields (not its command text, which sightings cover). */
export function postureOfEvent(e: NormalizedEvent): PostureHit[] {
  const id = e.winlog.event_id, ch = e.winlog.channel.toLowerCase(), d = e.winlog.event_data ?? {};
  const out: PostureHit[] = [];
  const host = e.host.name;
  if (ch === 'microsoft-windows-winrm/operational') {
    const mech = (e.winrm?.authentication_mechanism ?? '').toLowerCase();
    if (id === 169 && mech) {
      const who = e.winrm?.user ?? '?';
      if (mech === 'basic') out.push({ rule: 'posture.basic-auth', strong: true, why: `${who} authenticated to WinRM with Basic`, key: `${host}|basic|${who}` });
      if (mech === 'credssp') out.push({ rule: 'posture.credssp', strong: true, why: `${who} authenticated to WinRM with CredSSP`, key: `${host}|credssp|${who}` });
      if (mech === 'ntlm' && !isServiceIdentity(who)) out.push({ rule: 'posture.ntlm', strong: false, why: `${who} authenticated to WinRM with NTLM`, key: `${host}|ntlm-in|${who.toLowerCase()}` });
    }
    const target = e.winrm?.target;
    const user = e.user?.name ? `${e.user.domain ?? ''}\\${e.user.name}` : e.winlog.user?.name;
    if (id === 6 && target && isIp(target) && !isLoopback(target) && !(user && isServiceIdentity(user)) && e.winlog.user?.identifier !== 'S-1-5-20') {
      out.push({ rule: 'posture.ntlm', strong: true, why: `WinRM client connected to the IP address ${target} (NTLM, TrustedHosts)`, key: `${host}|ntlm-ip|${target}` });
    }
  }
  if (ch.startsWith('microsoft-windows-windows firewall with advanced security') && (id === 2004 || id === 2005)) {
    const ports = d.LocalPorts ?? d.LocalPort ?? '';
    const name = d.RuleName ?? '';
    if (WINRM_PORT.test(` ${ports} `) || /\bWinRM\b|Windows Remote Management/i.test(name)) {
      const pub = publicProfile(d.Profiles);
      out.push({ rule: 'posture.firewall', strong: pub, why: `firewall rule "${name}" ${id === 2004 ? 'added' : 'changed'} for port(s) ${ports || '?'}${pub ? ', public profile included' : ''}`, key: `${host}|fw|${d.RuleId ?? name}|${id}|${e['@timestamp']}` });
    }
  }
  if (ch === 'security' && id === 4732 && (d.TargetSid === RMU_SID || /^Remote Management Users$/i.test(d.TargetUserName ?? ''))) {
    const member = d.MemberName && d.MemberName !== '-' ? d.MemberName : d.MemberSid ?? '?';
    out.push({ rule: 'posture.non-admin-access', strong: true, why: `${member} added to Remote Management Users`, key: `${host}|rmu|${member}|${e['@timestamp']}` });
  }
  if (ch === 'system' && id === 7040 && /Windows Remote Management|WinRM/i.test(`${d.param1 ?? ''} ${d.param4 ?? ''}`) && /auto/i.test(`${d.param3 ?? ''}`)) {
    out.push({ rule: 'posture.enable-remoting', strong: false, why: 'WinRM service set to start automatically', key: `${host}|7040|${e['@timestamp']}` });
  }
  return out;
}

interface Group { rule: string; key: string; strong: boolean; whys: Set<string>; hosts: Set<string>; sessions: Set<string>; evidence: EvidenceKeeper }

/** Collects posture hits from events, sightings and sessions, one finding per rule and key. */
export class PostureFindings {
  private readonly groups = new Map<string, Group>();

  private add(rule: string, key: string, strong: boolean, why: string, host: string, evidence: readonly EvidenceRef[], session?: string): void {
    const k = `${rule}|${key}`;
    let g = this.groups.get(k);
    if (!g) {
      if (this.groups.size >= 50_000) return;
      g = { rule, key, strong: false, whys: new Set(), hosts: new Set(), sessions: new Set(), evidence: new EvidenceKeeper(200) };
      this.groups.set(k, g);
    }
    g.strong ||= strong;
    if (g.whys.size < 8) g.whys.add(why);
    g.hosts.add(host);
    if (session) g.sessions.add(session);
    g.evidence.addAll(evidence);
  }

  /** Events with a posture hit: observe() ignores everything else. */
  static wants(e: NormalizedEvent): boolean {
    return postureOfEvent(e).length > 0;
  }

  observe(e: NormalizedEvent): void {
    const hits = postureOfEvent(e);
    if (hits.length === 0) return;
    const ev = evidenceOf(e);
    for (const h of hits) this.add(h.rule, h.key, h.strong, h.why, e.host.name, [ev]);
  }

  fromSightings(sightings: readonly Sighting[]): void {
    for (const s of sightings) {
      for (const h of s.analysis.hits) {
        if (!POSTURE_RULES[h.rule]) continue;
        const th = createHash('sha256').update(s.text).digest('hex').slice(0, 16);
        this.add(h.rule, `${s.host}|text|${th}`, h.strong ?? false, `${h.why}: ${clip(maskSecrets(s.text).replace(/\s+/g, ' '), 300)}`, s.host, s.evidence.kept);
      }
    }
  }

  /** Sessions authenticated with NTLM, Basic or CredSSP. */
  fromSessions(sessions: readonly SessionLike[]): void {
    for (const s of sessions) {
      const auth = (s.auth ?? '').toLowerCase();
      const rule = auth === 'ntlm' ? 'posture.ntlm' : auth === 'basic' ? 'posture.basic-auth' : auth === 'credssp' ? 'posture.credssp' : undefined;
      if (!rule) continue;
      const toIp = isIp(s.destination.host);
      const dst = s.destination.host ?? s.destination.ip ?? '?';
      // Same key as the 169 event of the same logon, so one finding carries both.
      const key = rule === 'posture.ntlm' && !toIp ? `${s.destination.host ?? dst}|ntlm-in|${(sessionUser(s) ?? '?').toLowerCase()}` : `session|${s.session_id}`;
      this.add(rule, key, rule !== 'posture.ntlm' || toIp, `session ${s.source.host ?? '?'} -> ${dst} as ${sessionUser(s) ?? '?'} used ${s.auth}`, s.destination.host ?? dst, s.evidence, s.session_id);
    }
  }

  drafts(): FindingDraft[] {
    return [...this.groups.values()].map((g) => {
      const r = POSTURE_RULES[g.rule];
      const hosts = [...g.hosts].sort();
      return {
        rule: g.rule, key: g.key, title: `${r.title} on ${hosts.join(', ')}`, severity: g.strong ? r.strong : r.severity,
        category: 'posture', attack: r.attack, summary: `${r.explain} ${[...g.whys].sort().join('; ')}.`, hosts, session_ids: [...g.sessions], evidence: g.evidence.kept, dropped: g.evidence.dropped,
      };
    });
  }
}
