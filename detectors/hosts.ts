// What the data itself says about names and addresses: which IPs belong to which host (remoting flows,
// machine-account logons and 4769 client addresses on the DC, Sysmon 22 answers), and which Kerberos
// LogonGuid was issued for which service host to which client address (4769).

/** Lower-case short name: `DC01.mssentinel.local` -> `dc01`; IPs unchanged. */
export function shortName(name: string): string {
  const n = name.trim().toLowerCase().replace(/^(https?|wsman)\//, '').replace(/[:/].*$/, '');
  if (isIp(n)) return n;
  return n.split('.')[0].replace(/\$$/, '');
}

export function isIp(s: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(s) || (s.includes(':') && /^[0-9a-f:.]+$/i.test(s));
}

/** `::ffff:1.2.3.4` -> `1.2.3.4`; loopback, link-local and unspecified addresses are not identities. */
export function cleanIp(ip: string | undefined): string | undefined {
  if (!ip || ip === '-') return undefined;
  const v = ip.trim().toLowerCase().replace(/^::ffff:/, '');
  if (v === '::1' || v.startsWith('127.') || v.startsWith('fe80:') || v === '0.0.0.0' || v === '::' || v.startsWith('169.254.')) return undefined;
  return v;
}

import type { Evidence } from './session.js';

/** A 4769 on a DC: which service host the ticket was for, to which address; `ev` points at the record. */
export interface TicketInfo { service: string; clientIp?: string; user?: string; time: number; ev?: Evidence }

export class HostDirectory {
  /** ip -> short host name -> times seen */
  private readonly ipHosts = new Map<string, Map<string, number>>();
  private readonly hostIps = new Map<string, Set<string>>();
  private readonly tickets = new Map<string, TicketInfo>();
  private readonly maxTickets: number;

  constructor(maxTickets = 100_000) {
    this.maxTickets = maxTickets;
  }

  learn(host: string, ip: string | undefined): void {
    const v = cleanIp(ip);
    if (!v) return;
    const h = shortName(host);
    let m = this.ipHosts.get(v);
    if (!m) this.ipHosts.set(v, (m = new Map()));
    m.set(h, (m.get(h) ?? 0) + 1);
    let s = this.hostIps.get(h);
    if (!s) this.hostIps.set(h, (s = new Set()));
    s.add(v);
  }

  /** The host an address belongs to, when one host clearly owns it (most sightings, then name order). */
  hostOf(ip: string | undefined): string | undefined {
    const v = cleanIp(ip);
    if (!v) return undefined;
    const m = this.ipHosts.get(v);
    if (!m) return undefined;
    return [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0][0];
  }

  ipsOf(host: string): string[] {
    return [...(this.hostIps.get(shortName(host)) ?? [])].sort();
  }

  /** A target as written (short name, FQDN or IP) -> short host name. */
  resolve(target: string): string {
    const s = shortName(target);
    return isIp(s) ? this.hostOf(s) ?? s : s;
  }

  addTicket(guid: string, t: TicketInfo): void {
    if (this.tickets.size >= this.maxTickets) {
      const first = this.tickets.keys().next().value;
      if (first !== undefined) this.tickets.delete(first);
    }
    this.tickets.set(guid.toUpperCase(), t);
  }

  ticket(guid: string | undefined): TicketInfo | undefined {
    return guid ? this.tickets.get(guid.toUpperCase()) : undefined;
  }
}

export const ZERO_GUID = '{00000000-0000-0000-0000-000000000000}';
