// Lateral movement from sessions: remote execution over WinRM (one rule per session kind), multi-hop
// chains (A->B->C) and fan-out (one source to many destinations).
import { maskSecrets } from './secrets.js';
import { sessionUser, type ChainLike, type FanOutLike, type HopLike, type SessionLike } from './session-shape.js';
import { clip, type FindingDraft, type FindingHop, type Severity } from './types.js';

const KIND: Record<SessionLike['kind'], { rule: string; what: string; attack: string[] }> = {
  psremoting: { rule: 'remote-exec.psremoting', what: 'PowerShell remoting', attack: ['T1021.006', 'T1059.001'] },
  winrs: { rule: 'remote-exec.winrs', what: 'Windows Remote Shell (WinRS)', attack: ['T1021.006', 'T1059.003'] },
  'wsman-wmi': { rule: 'remote-exec.wsman-wmi', what: 'WS-Management to WMI', attack: ['T1021.006', 'T1047'] },
  'winrm-unknown': { rule: 'remote-exec.winrm', what: 'a WinRM session of unknown kind', attack: ['T1021.006'] },
};

export function hopOfSession(s: SessionLike): FindingHop | undefined {
  if (!s.source.host && !s.source.ip) return undefined;
  const h: FindingHop = { source: s.source.host ?? s.source.ip ?? '?', destination: s.destination.host ?? s.destination.ip ?? '?', time: s.start, session_id: s.session_id };
  const u = sessionUser(s);
  if (u) h.user = u;
  return h;
}

function commandList(s: SessionLike, max = 5): string {
  if (s.commands.length === 0) return 'No command text was logged.';
  const shown = s.commands.slice(0, max).map((c) => `[${c.side}, ${c.type}] ${clip(maskSecrets(c.text).replace(/\s+/g, ' '), 200)}`);
  const more = s.commands.length > max ? ` (and ${s.commands.length - max} more)` : '';
  return `${s.commands.length} command(s)${more}: ${shown.join(' | ')}`;
}

export function remoteExecDraft(s: SessionLike): FindingDraft {
  const k = KIND[s.kind];
  const src = s.source.host ?? s.source.ip ?? 'an unidentified source';
  const dst = s.destination.host ?? s.destination.ip ?? 'an unidentified destination';
  const user = sessionUser(s) ?? 'an unknown user';
  // A paired session is both ends agreeing; a half-session is one host's word.
  const severity: Severity = s.paired ? (s.kind === 'winrm-unknown' ? 'medium' : 'high') : s.kind === 'winrm-unknown' ? 'low' : 'medium';
  const half = s.paired ? '' : ` Only one end was seen (${s.unpaired_reason ?? 'unpaired'}).`;
  const hop = hopOfSession(s);
  return {
    rule: k.rule,
    key: s.session_id,
    title: `${k.what}: ${src} -> ${dst} as ${user}`,
    severity,
    category: 'lateral-movement',
    attack: k.attack,
    summary: `${src} ran ${k.what} on ${dst} as ${user}${s.auth ? ` (${s.auth})` : ''} from ${s.start} to ${s.end}. ${commandList(s)}${half}`,
    hosts: [s.source.host ?? '', s.destination.host ?? ''],
    session_ids: [s.session_id],
    hops: hop ? [hop] : [],
    evidence: s.evidence,
    start: s.start,
    end: s.end,
  };
}

function sessionsEvidence(ids: readonly string[], byId: Map<string, SessionLike>): SessionLike['evidence'][number][] {
  return ids.flatMap((id) => [...(byId.get(id)?.evidence ?? [])]);
}

function hopsOf(ids: readonly string[], byId: Map<string, SessionLike>, hops: readonly HopLike[]): FindingHop[] {
  return ids.map((id) => {
    const h = hops.find((x) => x.session_id === id);
    if (h) return { source: h.source, destination: h.destination, time: h.time, session_id: h.session_id, ...(h.user ? { user: h.user } : {}) };
    const s = byId.get(id);
    return s ? hopOfSession(s) : undefined;
  }).filter((h): h is FindingHop => h !== undefined);
}

export function chainDraft(c: ChainLike, byId: Map<string, SessionLike>, hops: readonly HopLike[]): FindingDraft {
  return {
    rule: 'lateral.chain',
    key: c.session_ids.join(','),
    title: `Multi-hop chain: ${c.hosts.join(' -> ')}`,
    severity: 'high',
    category: 'lateral-movement',
    attack: ['T1021.006'],
    summary: `A destination went on to open remoting sessions of its own: ${c.hosts.join(' -> ')} (${c.hosts.length - 1} hops) between ${c.start} and ${c.end}, as ${c.users.join(', ') || 'unknown users'}.`,
    hosts: c.hosts,
    session_ids: c.session_ids,
    hops: hopsOf(c.session_ids, byId, hops),
    evidence: sessionsEvidence(c.session_ids, byId),
    start: c.start,
    end: c.end,
  };
}

export function fanoutDraft(f: FanOutLike, byId: Map<string, SessionLike>, hops: readonly HopLike[]): FindingDraft {
  return {
    rule: 'lateral.fanout',
    key: `${f.source}|${f.session_ids.join(',')}`,
    title: `Fan-out: ${f.source} to ${f.destinations.length} hosts`,
    severity: 'high',
    category: 'lateral-movement',
    attack: ['T1021.006'],
    summary: `${f.source} opened remoting sessions on ${f.destinations.length} hosts between ${f.start} and ${f.end}: ${f.destinations.join(', ')}.`,
    hosts: [f.source, ...f.destinations],
    session_ids: f.session_ids,
    hops: hopsOf(f.session_ids, byId, hops),
    evidence: sessionsEvidence(f.session_ids, byId),
    start: f.start,
    end: f.end,
  };
}
