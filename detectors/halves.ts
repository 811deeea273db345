// Half-sessions, one host at a time: the destination half (network logon, the WinRM plug-in host process
// and its children, the ServerRemoteHost PowerShell host, WinRM server events, inbound 5985/5986) and the
// source half (WinRM client events, remote runspace pools, 4648 to HTTP/<host>, outbound 5985/5986,
// remoting cmdlets in script text). Events arrive here already in event-time order (stream.ts), so every
// "most recent" decision below is deterministic.
import type { NormalizedEvent } from '../schemas/event.js';
import type { Command, Evidence, SessionKind } from './session.js';
import { HostDirectory, ZERO_GUID, cleanIp, shortName } from './hosts.js';
import { TtlMap } from './stream.js';

export type Side = 'source' | 'destination';

export interface Half {
  id: string;
  side: Side;
  host: string;
  hostname: string;
  kind?: SessionKind;
  start: number;
  last: number;
  end: number;
  /** Has a remoting-specific anchor; weak halves (flows, runspace pools alone) are only reported when paired. */
  strong: boolean;
  user?: { name?: string; domain?: string };
  /** The account SID, when the events give one (WinRM server events run as the connecting user). */
  userSid?: string;
  auth?: string;
  /** Destination: the session's logon IDs, the one the service process runs under first. */
  logonIds: string[];
  guids: Set<string>;
  pid?: number;
  processName?: string;
  /** Source: target names as written (WinRM 6, 4648, -ComputerName). */
  targets: Set<string>;
  remoteIps: Set<string>;
  localIps: Set<string>;
  flows: Set<string>;
  commands: Command[];
  evidence: Evidence[];
  closed: boolean;
  /** Number of commands / evidence records dropped past the caps. */
  dropped: number;
}

const MAX_COMMANDS = 500;
const MAX_EVIDENCE = 2000;
const ATTACH_MS = 60_000;
const FLOW_MS = 15_000;
const SYSTEM_LOGONS = new Set(['0x3e7', '0x3e4', '0x3e5', '0x0']);
/**
 * The processes that serve a remoting session, by lower-case image name. A Map: a process named
 * `constructor` was found in a plain object's prototype, made a session of no kind, and ended hunt.
 */
const SERVICE_KIND: ReadonlyMap<string, SessionKind> = new Map([['wsmprovhost.exe', 'psremoting'], ['winrshost.exe', 'winrs']]);
const REMOTING_PORTS = new Set([5985, 5986]);
const REMOTING_CMDLET = /\b(Invoke-Command|Enter-PSSession|New-PSSession|icm|etsn|nsn)\b/i;
const COMPUTER_ARG = /-(?:ComputerName|Cn)\s*[: ]\s*((?:['"]?[A-Za-z0-9_.-]+['"]?\s*,\s*)*['"]?[A-Za-z0-9_.-]+['"]?)/gi;

export function kindFromResourceUri(uri: string | undefined): SessionKind | undefined {
  if (!uri) return undefined;
  const u = uri.toLowerCase();
  if (u.includes('/powershell/')) return 'psremoting';
  if (u.includes('/shell/cmd')) return 'winrs';
  if (u.includes('/wmi/') || u.includes('/cimv2') || u.includes('wbem/wscim') || u.includes('/wmi')) return 'wsman-wmi';
  return undefined;
}

/** Undirected flow key: both ends sorted, so a reversed (older Sysmon) record gives the same key. */
export function flowKey(a: string, ap: number, b: string, bp: number): string {
  const x = `${a}:${ap}`, y = `${b}:${bp}`;
  return x < y ? `${x}|${y}` : `${y}|${x}`;
}

/** Targets named by `-ComputerName` in text that uses a remoting cmdlet. */
export function remotingTargets(text: string): string[] {
  if (!REMOTING_CMDLET.test(text)) return [];
  const out: string[] = [];
  for (const m of text.matchAll(COMPUTER_ARG)) {
    for (const t of m[1].split(',')) {
      const v = t.trim().replace(/^['"]|['"]$/g, '');
      if (v && !v.startsWith('$')) out.push(v);
    }
  }
  return out;
}

export function evidenceOf(e: NormalizedEvent, side: Evidence['side']): Evidence {
  const p = e.hoptrail.provenance;
  const ev: Evidence = { host: e.host.name, channel: e.winlog.channel, event_id: e.winlog.event_id, time: e['@timestamp'], side };
  if (e.winlog.record_id !== undefined) ev.record_id = e.winlog.record_id;
  if (p.kafka) ev.kafka = p.kafka;
  else {
    if (p.file) ev.file = p.file;
    if (p.entry) ev.entry = p.entry;
    if (p.line !== undefined) ev.line = p.line;
    else if (p.offset !== undefined) ev.offset = p.offset;
  }
  return ev;
}

function splitUser(s: string | undefined): { name?: string; domain?: string } | undefined {
  if (!s) return undefined;
  const i = s.indexOf('\\');
  return i < 0 ? { name: s } : { domain: s.slice(0, i), name: s.slice(i + 1) };
}

const lc = (s: string | undefined): string => (s ?? '').toLowerCase();
const num = (s: string | undefined): number | undefined => {
  if (!s) return undefined;
  const v = s.startsWith('0x') ? parseInt(s, 16) : parseInt(s, 10);
  return Number.isFinite(v) ? v : undefined;
};

interface Logon { id: string; host: string; user?: { name?: string; domain?: string }; auth?: string; guid?: string; ip?: string; time: number; ev: Evidence }
interface Inbound { time: number; flow: string; clientIp: string; serverIp: string; ev: Evidence }

export interface HalfOptions {
  /** A half closes this long (event time) after its last event. */
  idleMs?: number;
}

export class HalfSessions {
  private readonly live = new Set<Half>();
  private readonly keys = new Map<string, Half>();
  private readonly halfKeys = new Map<Half, string[]>();
  private readonly procs = new TtlMap<Half>(6 * 3600_000);
  private readonly logons = new TtlMap<Logon>(3600_000);
  private readonly recentLogons = new Map<string, Logon[]>();
  private readonly recentInbound = new Map<string, Inbound[]>();
  private readonly wsmanClient = new Map<string, Half>();
  private readonly exited = new Map<string, { h: Half; t: number }>();
  private readonly idleMs: number;
  private seq = 0;

  constructor(readonly hosts: HostDirectory, opts: HalfOptions = {}) {
    this.idleMs = opts.idleMs ?? 10 * 60_000;
  }

  /** Live (not yet closed) halves, in creation order. */
  liveHalves(): Half[] {
    return [...this.live];
  }

  // ---- bookkeeping -------------------------------------------------------------------------------

  private create(side: Side, e: NormalizedEvent, t: number, key: string): Half {
    const h: Half = {
      id: `${side === 'source' ? 'S' : 'D'}${++this.seq}`, side, host: e.host.name, hostname: e.host.hostname,
      start: t, last: t, end: t, strong: false, logonIds: [], guids: new Set(), targets: new Set(), remoteIps: new Set(),
      localIps: new Set(), flows: new Set(), commands: [], evidence: [], closed: false, dropped: 0,
    };
    this.live.add(h);
    this.alias(key, h);
    return h;
  }

  private alias(key: string, h: Half): void {
    const old = this.keys.get(key);
    if (old === h) return;
    this.keys.set(key, h);
    const ks = this.halfKeys.get(h);
    if (ks) ks.push(key);
    else this.halfKeys.set(h, [key]);
  }

  private get(key: string): Half | undefined {
    const h = this.keys.get(key);
    return h && !h.closed ? h : undefined;
  }

  private touch(h: Half, e: NormalizedEvent, t: number, side: Evidence['side']): void {
    if (t < h.start) h.start = t;
    if (t > h.last) h.last = t;
    if (t > h.end) h.end = t;
    if (h.evidence.length < MAX_EVIDENCE) h.evidence.push(evidenceOf(e, side));
    else h.dropped++;
  }

  private addCommand(h: Half, c: Command): void {
    if (h.commands.length < MAX_COMMANDS) h.commands.push(c);
    else h.dropped++;
  }

  /** The most recently active live half of a side on a host, within `ms` of t. */
  private recent(side: Side, host: string, t: number, ms: number, pred?: (h: Half) => boolean): Half | undefined {
    let best: Half | undefined;
    for (const h of this.live) {
      if (h.side !== side || h.host !== host) continue;
      if (t < h.start - ms || t > h.last + ms) continue;
      if (pred && !pred(h)) continue;
      if (!best || h.last > best.last) best = h;
    }
    return best;
  }

  /** Closes halves idle past the TTL at `now`; returns them. */
  closeIdle(now: number): Half[] {
    const out: Half[] = [];
    for (const h of this.live) if (h.last + this.idleMs < now) out.push(h);
    for (const h of out) this.close(h);
    this.procs.evict(now);
    this.logons.evict(now);
    return out;
  }

  closeAll(): Half[] {
    const out = [...this.live];
    for (const h of out) this.close(h);
    return out;
  }

  private close(h: Half): void {
    h.closed = true;
    this.live.delete(h);
    for (const k of this.halfKeys.get(h) ?? []) if (this.keys.get(k) === h) this.keys.delete(k);
    this.halfKeys.delete(h);
    for (const [k, v] of this.wsmanClient) if (v === h) this.wsmanClient.delete(k);
  }

  // ---- dispatch ----------------------------------------------------------------------------------

  /** One event, in event-time order. `script` carries a reassembled 4104 text. */
  add(e: NormalizedEvent, t: number, script?: { text: string; partial: boolean; parts: NormalizedEvent[] }): void {
    const ch = lc(e.winlog.channel);
    const id = e.winlog.event_id;
    if (ch === 'security') this.security(e, t, id);
    else if (ch === 'microsoft-windows-sysmon/operational') {
      if (id === 1) this.processStart(e, t, false);
      else if (id === 5) this.processExit(e, t);
      else if (id === 3) this.flow(e, t);
      else if (id === 22) this.dns(e);
    } else if (ch === 'microsoft-windows-winrm/operational') {
      if (id < 80) this.winrmClient(e, t, id);
      else this.winrmServer(e, t, id);
    } else if (ch === 'windows powershell') this.psClassic(e, t, id);
    else if (ch === 'microsoft-windows-powershell/operational') this.psOperational(e, t, id, script);
  }

  private security(e: NormalizedEvent, t: number, id: number): void {
    switch (id) {
      case 4624: return this.logon(e, t);
      case 4688: return this.processStart(e, t, true);
      case 4689: return this.processExit(e, t);
      case 4648: return this.explicitCreds(e, t);
      case 4769: return this.ticket(e, t);
      case 5156: return this.flow(e, t);
      default: {
        // 4672, 4634, 4647 and account changes made from inside a session: evidence by logon ID.
        const lid = lc(e.winlog.logon?.id ?? e.winlog.event_data?.SubjectLogonId ?? e.winlog.event_data?.TargetLogonId);
        if (!lid || SYSTEM_LOGONS.has(lid)) return;
        const h = this.get(`${e.host.name}|logon:${lid}`);
        if (h) this.touch(h, e, t, 'destination');
      }
    }
  }

  private logon(e: NormalizedEvent, t: number): void {
    const lo = e.winlog.logon;
    if (lo?.type_code !== 3 || !lo.id) return;
    const ip = cleanIp(e.source?.ip);
    const name = e.user?.name;
    if (name?.endsWith('$') && ip) this.hosts.learn(name, ip);
    const L: Logon = { id: lc(lo.id), host: e.host.name, user: e.user ? { name: e.user.name, domain: e.user.domain } : undefined, auth: lo.auth_package, guid: lo.guid, ip, time: t, ev: evidenceOf(e, 'destination') };
    this.logons.set(`${e.host.name}|${L.id}`, L, t);
    if (name?.endsWith('$') || !name) return;
    // The service process may have been seen first (same millisecond, other channel).
    const direct = this.get(`${e.host.name}|logon:${L.id}`);
    if (direct) {
      if (direct.logonIds[0] === L.id) { direct.auth = L.auth ?? direct.auth; if (L.user?.name) direct.user = L.user; }
      else direct.auth ??= L.auth;
      if (L.guid && L.guid !== ZERO_GUID) direct.guids.add(L.guid.toUpperCase());
      if (L.ip) direct.remoteIps.add(L.ip);
      this.touch(direct, e, t, 'destination');
    }
    let list = this.recentLogons.get(e.host.name);
    if (!list) this.recentLogons.set(e.host.name, (list = []));
    list.push(L);
    if (list.length > 64) list.shift();
    // Each WinRM HTTP connection authenticates on its own: later logons of the same user join the session.
    const h = direct ? undefined : this.recent('destination', e.host.name, t, 30_000, (x) => x.logonIds.length > 0 && lc(x.user?.name) === lc(name));
    if (h) this.joinLogon(h, L, t);
  }

  private joinLogon(h: Half, L: Logon, t: number): void {
    if (h.logonIds.includes(L.id)) return;
    h.logonIds.push(L.id);
    if (L.guid && L.guid !== ZERO_GUID) h.guids.add(L.guid.toUpperCase());
    if (L.ip) h.remoteIps.add(L.ip);
    h.auth ??= L.auth;
    h.user ??= L.user;
    this.alias(`${h.host}|logon:${L.id}`, h);
    if (h.evidence.length < MAX_EVIDENCE) h.evidence.push(L.ev);
    if (L.time < h.start) h.start = L.time;
    if (t > h.last) h.last = t;
  }

  private processStart(e: NormalizedEvent, t: number, is4688: boolean): void {
    const host = e.host.name;
    const pid = e.process?.pid;
    const ppid = e.process?.parent?.pid;
    const name = lc(e.process?.name);
    const pname = lc(e.process?.parent?.name);
    const ed = e.winlog.event_data ?? {};
    const newLogon = lc(is4688 ? (ed.TargetLogonId && ed.TargetLogonId !== '0x0' ? ed.TargetLogonId : e.winlog.logon?.id) : e.winlog.logon?.id);
    const newUser = is4688 && ed.TargetUserName && ed.TargetUserName !== '-' ? { name: ed.TargetUserName, domain: ed.TargetDomainName } : e.user ? { name: e.user.name, domain: e.user.domain } : undefined;
    const serviceKind = SERVICE_KIND.get(name);
    if (serviceKind && pid !== undefined) {
      const h = this.serviceHalf(e, t, pid, newLogon, serviceKind, newUser);
      this.touch(h, e, t, 'destination');
      return;
    }
    const pguid = e.process?.parent?.entity_id;
    let parent = (pguid ? this.procs.get(`${host}|g:${pguid}`) : undefined) ?? (ppid !== undefined ? this.procs.get(`${host}|${ppid}`) : undefined);
    if (parent?.closed) parent = undefined;
    const parentKind = SERVICE_KIND.get(pname);
    if (!parent && ppid !== undefined && parentKind) {
      // The service process started before the log begins (or was not logged): its child still proves it.
      parent = this.serviceHalf(e, t, ppid, newLogon, parentKind, newUser);
    }
    if (!parent && newLogon && !SYSTEM_LOGONS.has(newLogon)) parent = this.get(`${host}|logon:${newLogon}`);
    if (!parent || pid === undefined) return;
    this.procs.set(`${host}|${pid}`, parent, t);
    if (e.process?.entity_id) this.procs.set(`${host}|g:${e.process.entity_id}`, parent, t);
    const cl = e.process?.command_line ?? e.process?.executable ?? name;
    // 4688 and Sysmon 1 record the same start: one command.
    const dup = parent.commands.some((c) => c.type === 'process' && c.host === host && c.text === cl && Math.abs(Date.parse(c.time) - t) <= 2000);
    if (!dup) this.addCommand(parent, { time: e['@timestamp'], host, side: 'destination', type: 'process', text: cl });
    this.touch(parent, e, t, 'destination');
  }

  /** A session process ended: evidence and end time; its PID may now be reused by anything. */
  private processExit(e: NormalizedEvent, t: number): void {
    const host = e.host.name;
    const pid = e.process?.pid;
    const g = e.process?.entity_id;
    const pk = pid !== undefined ? `${host}|${pid}` : undefined;
    // 4689 and Sysmon 5 record the same exit: the second finds the first's entry among the exited.
    const gone = pk ? this.exited.get(pk) : undefined;
    const h = (g ? this.procs.get(`${host}|g:${g}`) : undefined) ?? (pk ? this.procs.get(pk) : undefined) ?? (gone && t - gone.t <= 5000 ? gone.h : undefined);
    if (!h || h.closed) return;
    this.touch(h, e, t, 'destination');
    if (pk && this.procs.get(pk) === h) {
      this.procs.delete(pk);
      this.exited.set(pk, { h, t });
      if (this.exited.size > 1024) for (const [k, v] of this.exited) if (t - v.t > 5000 || this.exited.size > 1024) this.exited.delete(k);
    }
    if (g) this.procs.delete(`${host}|g:${g}`);
  }

  private serviceHalf(e: NormalizedEvent, t: number, pid: number, logonId: string, kind: SessionKind, user: Half['user']): Half {
    const host = e.host.name;
    const lid = logonId && !SYSTEM_LOGONS.has(logonId) ? logonId : undefined;
    let h = this.procs.get(`${host}|${pid}`);
    if (h?.closed) h = undefined;
    h ??= lid ? this.get(`${host}|logon:${lid}`) : undefined;
    // A WinRM server event or PowerShell host seen first (no logon yet) is the same session.
    h ??= this.recent('destination', host, t, 30_000, (x) => x.logonIds.length === 0 && x.pid === undefined);
    h ??= this.create('destination', e, t, lid ? `${host}|logon:${lid}` : `${host}|svc:${pid}`);
    h.strong = true;
    if (!h.kind || h.kind === 'winrm-unknown') h.kind = kind;
    h.pid ??= pid;
    h.processName ??= lc(e.process?.name) || undefined;
    if (user?.name && !h.user?.name) h.user = user;
    this.procs.set(`${host}|${pid}`, h, t);
    if (e.process?.entity_id && SERVICE_KIND.get(lc(e.process.name))) this.procs.set(`${host}|g:${e.process.entity_id}`, h, t);
    if (lid) {
      const L = this.logons.get(`${host}|${lid}`);
      if (L) {
        // The service's own logon leads the list.
        if (!h.logonIds.includes(lid)) {
          this.joinLogon(h, L, t);
          h.logonIds = [lid, ...h.logonIds.filter((x) => x !== lid)];
          h.auth = L.auth ?? h.auth;
          if (L.user?.name) h.user = L.user;
        }
      } else if (!h.logonIds.includes(lid)) {
        h.logonIds.unshift(lid);
        this.alias(`${host}|logon:${lid}`, h);
      }
      // Other connections of the same user just before the process started.
      for (const o of this.recentLogons.get(host) ?? []) {
        if (o.id !== lid && t - o.time <= 30_000 && o.time <= t && lc(o.user?.name) === lc(h.user?.name)) this.joinLogon(h, o, t);
      }
    }
    for (const f of this.recentInbound.get(host) ?? []) if (f.time >= t - FLOW_MS && f.time <= t) this.joinInbound(h, f);
    return h;
  }

  private joinInbound(h: Half, f: Inbound): void {
    // 5156 and Sysmon 3 record the same connection: one flow, two pieces of evidence.
    h.flows.add(f.flow);
    h.remoteIps.add(f.clientIp);
    h.localIps.add(f.serverIp);
    if (h.evidence.length < MAX_EVIDENCE && !h.evidence.includes(f.ev)) h.evidence.push(f.ev);
  }

  private flow(e: NormalizedEvent, t: number): void {
    const sip = cleanIp(e.source?.ip), dip = cleanIp(e.destination?.ip);
    const sp = e.source?.port, dp = e.destination?.port;
    if (!sip || !dip || sp === undefined || dp === undefined) return;
    let server: [string, number], client: [string, number];
    if (REMOTING_PORTS.has(dp)) { server = [dip, dp]; client = [sip, sp]; }
    else if (REMOTING_PORTS.has(sp)) { server = [sip, sp]; client = [dip, dp]; }
    else return;
    const key = flowKey(server[0], server[1], client[0], client[1]);
    const dir = e.network?.direction ?? (e.winlog.event_data?.Initiated === 'true' ? 'outbound' : 'inbound');
    const host = e.host.name;
    if (dir === 'outbound') {
      this.hosts.learn(e.host.hostname, client[0]);
      const pname = lc(e.process?.name);
      const pid = e.process?.pid;
      // Windows Event Forwarding: svchost.exe (NETWORK SERVICE) talking WinRM to the collector.
      if (pname === 'svchost.exe' || pid === undefined) return;
      const h = this.sourceHalf(e, t, pid, pname);
      if (!h.user && e.user?.name && !e.user.name.endsWith('$')) h.user = { name: e.user.name, domain: e.user.domain };
      h.flows.add(key);
      h.remoteIps.add(server[0]);
      h.localIps.add(client[0]);
      this.touch(h, e, t, 'source');
    } else {
      this.hosts.learn(e.host.hostname, server[0]);
      const f: Inbound = { time: t, flow: key, clientIp: client[0], serverIp: server[0], ev: evidenceOf(e, 'destination') };
      let list = this.recentInbound.get(host);
      if (!list) this.recentInbound.set(host, (list = []));
      list.push(f);
      while (list.length > 256 || (list.length > 0 && list[0].time < t - FLOW_MS)) list.shift();
      const h = this.recent('destination', host, t, FLOW_MS);
      if (h) { this.joinInbound(h, f); if (t > h.last) h.last = t; if (t > h.end) h.end = t; }
    }
  }

  private dns(e: NormalizedEvent): void {
    const q = e.dns?.question?.name;
    const a = e.dns?.answers ?? e.winlog.event_data?.QueryResults;
    if (!q || !a) return;
    for (const part of a.split(';')) {
      const ip = part.trim().replace(/^::ffff:/, '');
      if (/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) this.hosts.learn(q.replace(/\.$/, ''), ip);
    }
  }

  private ticket(e: NormalizedEvent, t: number): void {
    const guid = e.winlog.logon?.guid ?? e.winlog.event_data?.LogonGuid;
    const service = e.winlog.event_data?.ServiceName;
    if (!guid || guid === ZERO_GUID || !service || lc(service) === 'krbtgt') return;
    this.hosts.addTicket(guid, { service: shortName(service), clientIp: cleanIp(e.source?.ip), user: e.user?.name, time: t, ev: evidenceOf(e, 'dc') });
  }

  // ---- source side -------------------------------------------------------------------------------

  /** The source half of one client process; a pid-less half of the same program nearby is adopted. */
  private sourceHalf(e: NormalizedEvent, t: number, pid: number | undefined, pname: string, fallbackKey?: string): Half {
    const host = e.host.name;
    if (pid !== undefined && pid > 0) {
      const k = `${host}|pid:${pid}`;
      let h = this.get(k);
      if (!h) {
        h = this.recent('source', host, t, ATTACH_MS, (x) => x.pid === undefined && !!pname && x.processName === pname);
        if (h) { h.pid = pid; this.alias(k, h); }
      }
      h ??= this.create('source', e, t, k);
      h.pid ??= pid;
      h.processName ??= pname || undefined;
      return h;
    }
    let h = this.recent('source', host, t, ATTACH_MS, (x) => !!pname && x.processName === pname);
    h ??= fallbackKey ? this.get(fallbackKey) : undefined;
    h ??= this.create('source', e, t, fallbackKey ?? `${host}|anon:${this.seq}`);
    h.processName ??= pname || undefined;
    return h;
  }

  private explicitCreds(e: NormalizedEvent, t: number): void {
    const ed = e.winlog.event_data ?? {};
    const info = ed.TargetInfo ?? '';
    if (!/^(https?|wsman)\//i.test(info)) return;
    const pid = e.process?.pid ?? num(ed.ProcessId);
    const h = this.sourceHalf(e, t, pid, lc(e.process?.name));
    h.strong = true;
    h.targets.add(ed.TargetServerName && ed.TargetServerName !== '-' ? ed.TargetServerName : info.replace(/^[^/]*\//, ''));
    const g = ed.TargetLogonGuid;
    if (g && g.toUpperCase() !== ZERO_GUID) h.guids.add(g.toUpperCase());
    if (e.user?.name) h.user ??= { name: e.user.name, domain: e.user.domain };
    this.touch(h, e, t, 'source');
  }

  private winrmClient(e: NormalizedEvent, t: number, id: number): void {
    const host = e.host.name;
    const pid = e.winlog.process?.pid || undefined;
    const ck = pid !== undefined ? `${host}|${pid}` : host;
    if (id === 6) {
      const h = this.sourceHalf(e, t, pid, '', `${host}|wsman:${t}`);
      h.strong = true;
      const target = e.winrm?.target ?? e.destination?.domain;
      if (target) h.targets.add(target);
      this.wsmanClient.set(ck, h);
      this.touch(h, e, t, 'source');
      return;
    }
    const h = this.wsmanClient.get(ck);
    if (!h || h.closed || t > h.last + this.idleMs) return;
    if (id === 11) h.kind ??= kindFromResourceUri(e.winrm?.resource_uri);
    this.touch(h, e, t, 'source');
    if (id === 33) this.wsmanClient.delete(ck);
  }

  private winrmServer(e: NormalizedEvent, t: number, id: number): void {
    const host = e.host.name;
    const creates = id === 91 || id === 169;
    let h = this.recent('destination', host, t, 30_000);
    if (!h && !creates) return;
    h ??= this.create('destination', e, t, `${host}|winrm:${t}`);
    if (creates) h.strong = true;
    if (id === 91) {
      const k = kindFromResourceUri(e.winrm?.resource_uri);
      if (k && (!h.kind || h.kind === 'winrm-unknown')) h.kind = k;
    }
    if (id === 169) {
      const u = splitUser(e.winrm?.user);
      if (u?.name && !h.user?.name) h.user = u;
      h.auth ??= e.winrm?.authentication_mechanism;
    }
    const sid = e.winlog.user?.identifier;
    if (sid && /^S-1-5-21-/.test(sid)) h.userSid ??= sid;
    const ip = cleanIp(e.winrm?.client_ip);
    if (ip) h.remoteIps.add(ip);
    this.touch(h, e, t, 'destination');
  }

  private psClassic(e: NormalizedEvent, t: number, id: number): void {
    const host = e.host.name;
    const ps = e.powershell;
    if (ps?.host?.name === 'ServerRemoteHost') {
      const hk = `${host}|pshost:${ps.host.id ?? ps.runspace_id ?? ''}`;
      let h = this.get(hk) ?? this.recent('destination', host, t, ATTACH_MS, (x) => x.kind === undefined || x.kind === 'psremoting');
      h ??= this.create('destination', e, t, hk);
      this.alias(hk, h);
      h.strong = true;
      h.kind ??= 'psremoting';
      if (id === 800 && ps.command?.value) this.addCommand(h, { time: e['@timestamp'], host, side: 'destination', type: 'pipeline', text: ps.command.value });
      this.touch(h, e, t, 'destination');
      return;
    }
    if (id !== 800) return;
    const text = ps?.command?.value ?? '';
    this.sourceText(e, t, text, 'pipeline', undefined);
  }

  private psOperational(e: NormalizedEvent, t: number, id: number, script?: { text: string; partial: boolean; parts: NormalizedEvent[] }): void {
    const host = e.host.name;
    const pid = e.winlog.process?.pid || undefined;
    let h = pid !== undefined ? this.procs.get(`${host}|${pid}`) : undefined;
    if (h?.closed) h = undefined;
    if (!h && e.powershell?.host?.name === 'ServerRemoteHost') h = this.recent('destination', host, t, ATTACH_MS);
    if (id >= 8193 && id <= 8197 || id === 12039) {
      // Runspace pool events of a client process: a weak source half unless something else anchors it.
      if (h) return this.touch(h, e, t, 'destination');
      if (pid === undefined) return;
      const k = `${host}|pid:${pid}`;
      const s = id === 8194 ? this.sourceHalf(e, t, pid, '') : this.get(k);
      if (s) { if (id === 8194 || id === 8195) s.kind ??= 'psremoting'; this.touch(s, e, t, 'source'); }
      return;
    }
    const text = id === 4104 ? script?.text ?? e.powershell?.file?.script_block_text ?? '' : id === 4103 ? e.powershell?.command?.value ?? e.powershell?.command?.name ?? '' : '';
    if (h) {
      if (id === 4103 || id === 4104) {
        const c: Command = { time: e['@timestamp'], host, side: 'destination', type: id === 4104 ? 'script' : 'pipeline', text };
        if (script?.partial) c.partial = true;
        if (text) this.addCommand(h, c);
      }
      if (script) for (const p of script.parts) this.touch(h, p, Date.parse(p['@timestamp']), 'destination');
      else this.touch(h, e, t, 'destination');
      return;
    }
    if (id === 4103 || id === 4104) this.sourceText(e, t, text, id === 4104 ? 'script' : 'pipeline', pid, script?.partial);
  }

  private sourceText(e: NormalizedEvent, t: number, text: string, type: Command['type'], pid: number | undefined, partial?: boolean): void {
    const targets = remotingTargets(text);
    if (targets.length === 0) return;
    const app = lc((e.powershell?.host?.application ?? '').replace(/^"?([^"]*?\.exe)"?.*$/i, '$1').split('\\').pop());
    const h = this.sourceHalf(e, t, pid, app, `${e.host.name}|ps:${app}:${e.powershell?.runspace_id ?? ''}`);
    h.strong = true;
    h.kind ??= 'psremoting';
    for (const x of targets) h.targets.add(x);
    if (e.user?.name && !h.user) h.user = { name: e.user.name, domain: e.user.domain };
    // The same command is often logged three times (800 per pipeline stage): keep it once per second.
    if (!h.commands.some((c) => c.text === text && Math.abs(Date.parse(c.time) - t) <= 1000)) {
      const c: Command = { time: e['@timestamp'], host: e.host.name, side: 'source', type, text };
      if (partial) c.partial = true;
      this.addCommand(h, c);
    }
    this.touch(h, e, t, 'source');
  }
}
