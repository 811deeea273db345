// Cross-host pairing: a destination half takes the source halves of one source host that share its TCP
// connection (undirected flow key), name it as the target (short name, FQDN or an IP the data ties to it),
// or hold the Kerberos ticket its logon used (4769 LogonGuid), within the clock-skew window. What stays
// alone is reported as a half-session with the reason, if it has a remoting anchor of its own.
import { createHash } from 'node:crypto';
import type { Command, Evidence, Session, SessionKind } from './session.js';
import type { Half } from './halves.js';
import { HostDirectory, shortName } from './hosts.js';

/** By lower-case mechanism; a Map, as it is looked up by evidence text (no `constructor` in it). */
const AUTH: ReadonlyMap<string, Session['auth']> = new Map([['kerberos', 'Kerberos'], ['ntlm', 'NTLM'], ['negotiate', 'Negotiate'], ['basic', 'Basic'], ['credssp', 'CredSSP']]);

export function canonicalAuth(a: string | undefined): Session['auth'] {
  if (!a) return undefined;
  return AUTH.get(a.trim().toLowerCase().replace(/\s.*$/, ''));
}

const iso = (t: number): string => new Date(t).toISOString();

/** How strongly a source half belongs to a destination half (0: not at all). */
const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '.']);

export function pairScore(s: Half, d: Half, hosts: HostDirectory, skewMs: number): number {
  // A host remoting into itself (localhost, its own name) pairs only on that target.
  const loop = s.hostname === d.hostname;
  if (loop && ![...s.targets].some((t) => LOOPBACK.has(t.toLowerCase()) || hosts.resolve(t) === d.hostname)) return 0;
  if (s.start > d.end + skewMs || d.start > s.end + skewMs) return 0;
  let score = 0;
  for (const f of s.flows) if (d.flows.has(f)) { score += 10; break; }
  const dIps = new Set([...d.localIps, ...hosts.ipsOf(d.hostname)]);
  for (const t of s.targets) {
    const r = hosts.resolve(t);
    if (r === d.hostname || dIps.has(shortName(t)) || (loop && LOOPBACK.has(t.toLowerCase()))) { score += 5; break; }
  }
  if (score < 5) for (const ip of s.remoteIps) if (dIps.has(ip)) { score += 5; break; }
  // Kerberos: the source's ticket (4648 TargetLogonGuid) was for this host, or the destination's logon
  // ticket (4624 LogonGuid) was issued to this source's address.
  for (const g of s.guids) {
    const tk = hosts.ticket(g);
    if (tk && tk.service === d.hostname) { score += 4; break; }
  }
  const sIps = new Set([...s.localIps, ...hosts.ipsOf(s.hostname)]);
  for (const g of d.guids) {
    const tk = hosts.ticket(g);
    if (tk?.clientIp && (sIps.has(tk.clientIp) || hosts.hostOf(tk.clientIp) === s.hostname)) { score += 4; break; }
  }
  if (score === 0) return 0;
  if (s.user?.name && d.user?.name && s.user.name.toLowerCase() === d.user.name.toLowerCase()) score += 1;
  return score;
}

function userString(u: Half['user']): string | undefined {
  if (!u?.name) return undefined;
  return u.domain ? `${u.domain}\\${u.name}` : u.name;
}

function evKey(e: Evidence): string {
  return `${e.time}|${e.host}|${e.channel}|${String(e.record_id ?? '').padStart(12, '0')}|${e.event_id}|${e.file ?? ''}|${e.entry ?? ''}|${e.line ?? e.offset ?? ''}`;
}

function cmdKey(c: Command): string {
  return `${c.time}|${c.side}|${c.host}|${c.type}|${c.text}`;
}

function uniqSorted<T>(xs: T[], key: (x: T) => string): T[] {
  const m = new Map<string, T>();
  for (const x of xs) { const k = key(x); if (!m.has(k)) m.set(k, x); }
  return [...m].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((x) => x[1]);
}

/** The one IP the halves show for a side, when they show exactly one. */
function single(ips: Iterable<string>): string | undefined {
  const s = [...new Set(ips)].sort();
  return s.length === 1 ? s[0] : s[0];
}

export function buildSession(d: Half | undefined, ss: Half[], hosts: HostDirectory, score: number, reason?: string): Session {
  const halves = [...(d ? [d] : []), ...ss];
  const start = Math.min(...halves.map((h) => h.start));
  const end = Math.max(...halves.map((h) => h.end));
  const s0 = ss[0];
  let kind: SessionKind = d?.kind ?? ss.find((s) => s.kind)?.kind ?? 'winrm-unknown';
  if (!kind) kind = 'winrm-unknown';
  const user = d?.user?.name ? d.user : ss.find((s) => s.user?.name)?.user;
  const sharedFlows = d ? ss.flatMap((s) => [...s.flows].filter((f) => d.flows.has(f))) : [];
  const srcIp = single([
    ...ss.flatMap((s) => [...s.localIps]),
    ...(d ? [...d.remoteIps] : []),
  ].filter((ip) => !s0 || sharedFlows.length === 0 || sharedFlows.some((f) => f.includes(`${ip}:`))));
  const dstIp = single([...(d ? [...d.localIps] : []), ...ss.flatMap((s) => [...s.remoteIps])]);
  let srcHost: string | undefined = s0?.host;
  if (!srcHost && d) {
    // Unpaired destination: the address (or Kerberos client address) may still name the source host.
    const ip = single(d.remoteIps) ?? [...d.guids].map((g) => hosts.ticket(g)?.clientIp).find((x) => x);
    srcHost = ip ? hosts.hostOf(ip) : undefined;
  }
  let dstHost: string | undefined = d?.host;
  if (!dstHost && s0) {
    const t = [...s0.targets].sort()[0];
    dstHost = t ? t.toLowerCase() : dstIp ? hosts.hostOf(dstIp) : undefined;
  }
  const commands = uniqSorted(halves.flatMap((h) => h.commands), cmdKey);
  // The DC's 4769 for this destination, when a Kerberos ticket ties the halves (or the destination) to it.
  const dcEvidence: Evidence[] = [];
  const dShort = d?.hostname ?? (dstHost ? shortName(dstHost) : undefined);
  for (const g of new Set(halves.flatMap((h) => [...h.guids]))) {
    const tk = hosts.ticket(g);
    if (tk?.ev && tk.service === dShort) dcEvidence.push(tk.ev);
  }
  const evidence = uniqSorted([...halves.flatMap((h) => h.evidence), ...dcEvidence], evKey);
  const logonId = d?.logonIds[0];
  const startIso = iso(start);
  const idSrc = [kind, srcHost ?? '', dstHost ?? '', (user?.name ?? '').toLowerCase(), logonId ?? '', startIso, d ? 'd' : 's'].join('|');
  const session: Session = {
    session_id: createHash('sha256').update(idSrc).digest('hex').slice(0, 32),
    kind,
    paired: !!d && ss.length > 0,
    source: {},
    destination: {},
    user: {},
    start: startIso,
    end: iso(end),
    commands,
    confidence: confidence(d, ss, score),
    evidence,
  };
  if (srcHost) session.source.host = srcHost;
  if (srcIp) session.source.ip = srcIp;
  const su = userString(ss.find((s) => s.user?.name)?.user);
  if (su) session.source.user = su;
  if (dstHost) session.destination.host = dstHost;
  if (dstIp) session.destination.ip = dstIp;
  if (user?.name) session.user.name = user.name;
  if (user?.domain) session.user.domain = user.domain;
  const sid = d?.userSid ?? ss.find((s) => s.userSid)?.userSid;
  if (sid) session.user.id = sid;
  const auth = canonicalAuth(d?.auth);
  if (auth) session.auth = auth;
  if (logonId) session.logon_id = logonId;
  if (reason) session.unpaired_reason = reason;
  return session;
}

function confidence(d: Half | undefined, ss: Half[], score: number): number {
  if (d && ss.length > 0) return score >= 10 ? 0.95 : score >= 9 ? 0.9 : score >= 5 ? 0.8 : 0.7;
  const h = d ?? ss[0];
  // A half alone: remoting is certain when the service process or ServerRemoteHost was seen.
  if (h.side === 'destination') return h.pid !== undefined || h.kind === 'psremoting' ? 0.7 : 0.5;
  return 0.5;
}

export interface PairResult { session: Session; halves: Half[] }

/**
 * Pairs the due halves against everything pending (and still open). Due halves that pair or cannot pair
 * come out; pending ones wait for their turn. Deterministic: candidates in (start, id) order.
 */
export function pairHalves(due: Half[], pool: Half[], hosts: HostDirectory, skewMs: number, used: Set<Half>): PairResult[] {
  const out: PairResult[] = [];
  const order = (a: Half, b: Half) => a.start - b.start || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0) || a.id.localeCompare(b.id);
  // Destinations first, so a source half due in the same round has had every chance to pair.
  const dues = [...due].sort((a, b) => (a.side === b.side ? order(a, b) : a.side === 'destination' ? -1 : 1));
  const dueSet = new Set(due);
  const sources = pool.filter((h) => h.side === 'source').sort(order);
  const dests = pool.filter((h) => h.side === 'destination').sort(order);
  for (const h of dues) {
    if (used.has(h)) continue;
    if (h.side === 'destination') {
      // The best source host, then every half of that host that matches.
      const byHost = new Map<string, { score: number; halves: Half[] }>();
      for (const s of sources) {
        const sc = pairScore(s, h, hosts, skewMs);
        if (sc < 4) continue;
        const g = byHost.get(s.host) ?? { score: 0, halves: [] };
        g.score = Math.max(g.score, sc);
        g.halves.push(s);
        byHost.set(s.host, g);
      }
      const best = [...byHost].sort((a, b) => b[1].score - a[1].score || (a[0] < b[0] ? -1 : 1))[0];
      if (best) {
        used.add(h);
        for (const s of best[1].halves) used.add(s);
        out.push({ session: buildSession(h, best[1].halves, hosts, best[1].score), halves: [h, ...best[1].halves] });
      } else if (h.strong) {
        used.add(h);
        out.push({ session: buildSession(h, [], hosts, 0, 'no source half-session matched: no shared TCP connection, target name, Kerberos ticket or address within the skew window (source host logs missing?)'), halves: [h] });
      } else used.add(h);
    } else {
      // A source half waits while an open or pending destination half could still take it.
      const waiting = dests.some((d) => !used.has(d) && !dueSet.has(d) && pairScore(h, d, hosts, skewMs) >= 4);
      if (waiting) continue;
      used.add(h);
      if (!h.strong) continue;
      const targets = [...h.targets].map((t) => hosts.resolve(t));
      const known = dests.length > 0 || targets.length > 0;
      const reason = known && targets.length > 0
        ? `no destination half-session matched on ${[...new Set(targets)].sort().join(', ')} (destination host logs missing or remoting not logged there)`
        : 'no destination half-session matched';
      out.push({ session: buildSession(undefined, [h], hosts, 0, reason), halves: [h] });
    }
  }
  return out;
}
