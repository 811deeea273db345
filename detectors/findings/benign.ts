// Known benign WinRM traffic that must not raise findings: Windows Event Forwarding (the forwarder's
// svchost.exe, as NETWORK SERVICE or the machine account, posting to the collector on 5985/5986) and
// loopback remoting (a host talking to itself).
import type { NormalizedEvent } from '../../schemas/event.js';
import { hostListed, isLoopback, shortHost } from './hosts.js';
import type { SessionLike } from './session-shape.js';

const SERVICE_USERS = /^(?:network service|networkservice|local service|system|anonymous logon)$/i;

/** NETWORK SERVICE, SYSTEM, a machine account (`NAME$`), or no user at all. */
export function isServiceIdentity(user: string | undefined): boolean {
  if (!user) return true;
  const name = user.includes('\\') ? user.slice(user.lastIndexOf('\\') + 1) : user;
  return SERVICE_USERS.test(name.trim()) || name.endsWith('$') || /^S-1-5-(?:18|19|20)$/i.test(name);
}

/** An outbound WinRM connection made by the Event Forwarding client (svchost.exe as a service identity). */
export function isWefFlow(e: NormalizedEvent): boolean {
  const port = e.destination?.port;
  if (port !== 5985 && port !== 5986) return false;
  if (e.network?.direction !== undefined && e.network.direction !== 'outbound') return false;
  const proc = (e.process?.name ?? e.process?.executable ?? '').toLowerCase();
  if (!proc.endsWith('svchost.exe')) return false;
  const user = e.user?.name ? `${e.user.domain ?? ''}\\${e.user.name}` : undefined;
  // 5156 carries no user: svchost.exe to 5985 is the forwarder there.
  return e.winlog.event_id === 5156 || isServiceIdentity(user);
}

export function isLoopbackSession(s: SessionLike): boolean {
  if (isLoopback(s.destination.host) || isLoopback(s.destination.ip)) return true;
  if (s.source.ip && s.destination.ip && s.source.ip === s.destination.ip) return true;
  return !!s.source.host && !!s.destination.host && shortHost(s.source.host) === shortHost(s.destination.host);
}

/** A session that is the event forwarder talking to its collector: a service identity, no commands, to a
 * known (configured or observed) collector, or no process of remoting at all. */
export function isWefSession(s: SessionLike, collectors: { hosts: readonly string[]; ips: ReadonlySet<string> }): boolean {
  const user = s.user.name ? `${s.user.domain ?? ''}\\${s.user.name}` : s.source.user;
  if (!isServiceIdentity(user)) return false;
  if (s.commands.length > 0) return false;
  const toCollector = hostListed(collectors.hosts, s.destination.host) || (s.destination.ip !== undefined && collectors.ips.has(s.destination.ip));
  return toCollector || s.kind === 'winrm-unknown';
}
