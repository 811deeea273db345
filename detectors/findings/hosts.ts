// Host-name and address helpers shared by the rules: short names, loopback, IP literals.
export const shortHost = (h: string | undefined): string => (h ?? '').toLowerCase().split('.')[0];

export function isIp(s: string | undefined): boolean {
  if (!s) return false;
  return /^\d{1,3}(?:\.\d{1,3}){3}$/.test(s) || (/^[0-9a-f:]+$/i.test(s) && s.includes(':'));
}

export function isLoopback(s: string | undefined): boolean {
  if (!s) return false;
  const v = s.toLowerCase().replace(/^\[|\]$/g, '');
  return v === 'localhost' || v === '::1' || v.startsWith('127.') || v === '0:0:0:0:0:0:0:1';
}

/** Whether a name in a list (short names or FQDNs, any case) names this host. */
export function hostListed(list: readonly string[], host: string | undefined): boolean {
  if (!host) return false;
  const h = host.toLowerCase();
  return list.some((x) => { const l = x.toLowerCase(); return l === h || shortHost(l) === shortHost(h) && (!l.includes('.') || !h.includes('.')); });
}

/** Whether a user list (`name` or `DOMAIN\name`, any case) names this user. */
export function userListed(list: readonly string[], user: string | undefined): boolean {
  if (!user) return false;
  const u = user.toLowerCase();
  const name = u.includes('\\') ? u.slice(u.indexOf('\\') + 1) : u;
  return list.some((x) => { const l = x.toLowerCase(); return l === u || (!l.includes('\\') && l === name); });
}
