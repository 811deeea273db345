// Which command text ran "in a remote session": in the WinRM plug-in host (ServerRemoteHost,
// wsmprovhost.exe, winrshost.exe) or a process it started, in a session's window on its destination, or
// the remoting call itself on the source.
import type { NormalizedEvent } from '../../schemas/event.js';
import { shortHost } from './hosts.js';
import type { SessionLike } from './session-shape.js';

const PLUGIN_HOSTS = /(?:^|\\)(?:wsmprovhost|winrshost)\.exe$/i;
/** A session's destination window is widened by this much: logging lags, children outlive the shell. */
const BEFORE_MS = 60_000;
const AFTER_MS = 300_000;

export function directlyRemote(e: NormalizedEvent): boolean {
  if (e.powershell?.host?.name === 'ServerRemoteHost') return true;
  if (/wsmprovhost\.exe|winrshost\.exe/i.test(e.powershell?.host?.application ?? '') && !/powershell/i.test(e.powershell?.host?.application ?? '')) return true;
  const parent = e.process?.parent?.name ?? e.process?.parent?.executable;
  return parent !== undefined && PLUGIN_HOSTS.test(parent);
}

/** Processes started (transitively) by a WinRM plug-in host, per host. Bounded per host. */
export class RemoteProcesses {
  private readonly pids = new Map<string, Set<number>>();
  private static readonly MAX_PER_HOST = 100_000;

  /** Process creations with a PID: observe() ignores everything else. */
  static wants(e: NormalizedEvent): boolean {
    const id = e.winlog.event_id;
    const sysmon1 = id === 1 && e.winlog.channel.toLowerCase() === 'microsoft-windows-sysmon/operational';
    return (id === 4688 || sysmon1) && e.process?.pid !== undefined;
  }

  observe(e: NormalizedEvent): void {
    if (!RemoteProcesses.wants(e) || e.process?.pid === undefined) return;
    const host = shortHost(e.host.name);
    const set = this.pids.get(host);
    const parentPid = e.process.parent?.pid;
    if (directlyRemote(e) || (set && parentPid !== undefined && set.has(parentPid))) {
      const s = set ?? new Set<number>();
      if (s.size < RemoteProcesses.MAX_PER_HOST) s.add(e.process.pid);
      this.pids.set(host, s);
    }
  }

  has(host: string, pid: number): boolean {
    return this.pids.get(shortHost(host))?.has(pid) ?? false;
  }
}

/** Sessions whose destination (or, for remoting calls, source) is this host around this time. */
export function sessionsAt(sessions: readonly SessionLike[], host: string, time: string, asSource: boolean): SessionLike[] {
  const t = Date.parse(time), h = shortHost(host);
  return sessions.filter((s) => {
    const start = Date.parse(s.start), end = Date.parse(s.end);
    if (shortHost(s.destination.host) === h && t >= start - BEFORE_MS && t <= end + AFTER_MS) return true;
    return asSource && shortHost(s.source.host) === h && t >= start - AFTER_MS && t <= end + BEFORE_MS;
  });
}
