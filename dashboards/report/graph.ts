// The lateral-movement graph as inline SVG: hosts as nodes on a circle (sorted, so the picture is the same
// every run), hops as arrows labelled with user and time. Pure: hops in, SVG text out; every label escaped.
import { esc } from './escape.js';

export interface GraphHop {
  source: string;
  destination: string;
  user?: string;
  time: string;
}

const W = 900;
const R_NODE = 34;

const short = (h: string): string => h.split('.')[0];
const cut = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}\u2026` : s);

export function renderGraph(hops: readonly GraphHop[], extraHosts: readonly string[] = []): string {
  const hosts = [...new Set([...hops.flatMap((h) => [h.source.toLowerCase(), h.destination.toLowerCase()]), ...extraHosts.map((h) => h.toLowerCase())])].sort();
  if (hosts.length === 0) return '<p class="muted">No hop between hosts was found.</p>';
  const H = hosts.length <= 2 ? 260 : Math.min(700, 260 + hosts.length * 30);
  const cx = W / 2, cy = H / 2;
  const rad = Math.min(W, H) / 2 - 70;
  const pos = new Map<string, { x: number; y: number }>();
  hosts.forEach((h, i) => {
    if (hosts.length === 1) pos.set(h, { x: cx, y: cy });
    else if (hosts.length === 2) pos.set(h, { x: i === 0 ? 150 : W - 150, y: cy });
    else {
      const a = (2 * Math.PI * i) / hosts.length - Math.PI / 2;
      pos.set(h, { x: cx + (rad + 120) * Math.cos(a), y: cy + rad * Math.sin(a) });
    }
  });
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="lateral movement graph">`);
  parts.push('<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#b3261e"/></marker></defs>');
  // Several hops between the same pair are drawn as separate curves so that every label stays readable.
  const pairCount = new Map<string, number>();
  const sorted = [...hops].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  for (const h of sorted) {
    const s = pos.get(h.source.toLowerCase()), d = pos.get(h.destination.toLowerCase());
    if (!s || !d) continue;
    const k = `${h.source.toLowerCase()}>${h.destination.toLowerCase()}`;
    const n = pairCount.get(k) ?? 0;
    pairCount.set(k, n + 1);
    const dx = d.x - s.x, dy = d.y - s.y, len = Math.hypot(dx, dy) || 1;
    const ux = dx / len, uy = dy / len;
    const x1 = s.x + ux * R_NODE, y1 = s.y + uy * R_NODE, x2 = d.x - ux * (R_NODE + 2), y2 = d.y - uy * (R_NODE + 2);
    const bend = 30 + n * 40;
    const mx = (x1 + x2) / 2 - uy * bend, my = (y1 + y2) / 2 + ux * bend;
    const f = (v: number): string => v.toFixed(1);
    parts.push(`<path d="M${f(x1)},${f(y1)} Q${f(mx)},${f(my)} ${f(x2)},${f(y2)}" fill="none" stroke="#b3261e" stroke-width="2" marker-end="url(#arrow)"/>`);
    const lx = (x1 + 2 * mx + x2) / 4, ly = (y1 + 2 * my + y2) / 4;
    parts.push(`<text x="${f(lx)}" y="${f(ly - 4)}" text-anchor="middle" class="elabel">${esc(cut(h.user ?? 'unknown user', 40))}</text>`);
    parts.push(`<text x="${f(lx)}" y="${f(ly + 10)}" text-anchor="middle" class="elabel">${esc(h.time.replace('T', ' ').replace(/\.\d+Z$|Z$/, 'Z'))}</text>`);
  }
  // Short names unless two hosts share one (workstation6 in two domains).
  const shortCount = new Map<string, number>();
  for (const h of hosts) shortCount.set(short(h), (shortCount.get(short(h)) ?? 0) + 1);
  for (const h of hosts) {
    const p = pos.get(h);
    if (!p) continue;
    parts.push(`<g><title>${esc(h)}</title><circle cx="${p.x.toFixed(1)}" cy="${p.y.toFixed(1)}" r="${R_NODE}" fill="#e8eef7" stroke="#1f4e8c" stroke-width="2"/>`);
    parts.push(`<text x="${p.x.toFixed(1)}" y="${(p.y + R_NODE + 16).toFixed(1)}" text-anchor="middle" class="nlabel">${esc(cut((shortCount.get(short(h)) ?? 0) > 1 ? h : short(h), 40))}</text></g>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
}
