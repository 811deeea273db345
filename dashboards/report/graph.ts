// The lateral-movement graph as inline SVG: hosts as nodes in layers (sorted, so the picture is the same
// every run), hops as arrows labelled with user and time. Pure: hops in, SVG text out; every label escaped.
import { esc } from './escape.js';

export interface GraphHop {
  source: string;
  destination: string;
  user?: string;
  time: string;
}

const W = 900;
const R_NODE = 30;
const MARGIN_X = 110;
const MARGIN_Y = 20;
const ROW_H = 150;
const BAND_GAP = 10;

const short = (h: string): string => h.split('.')[0];
const cut = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}\u2026` : s);

/** Layered layout: each connected group of hosts is a band, hosts placed left to right by how many hops
 * lead to them, so arrows mostly run left to right and do not cross. Deterministic (sorted everywhere). */
function layout(hosts: string[], edges: [string, string][]): { pos: Map<string, { x: number; y: number }>; height: number } {
  const parent = new Map(hosts.map((h) => [h, h]));
  const find = (h: string): string => { let r = h; while (parent.get(r) !== r) r = parent.get(r) ?? r; return r; };
  for (const [a, b] of edges) { const ra = find(a), rb = find(b); if (ra !== rb) parent.set(ra < rb ? rb : ra, ra < rb ? ra : rb); }
  const layer = new Map(hosts.map((h) => [h, 0]));
  // Longest path from a host nobody reached, capped so that cycles (A->B->A) end.
  for (let round = 0; round < hosts.length; round++) {
    let changed = false;
    for (const [a, b] of edges) {
      if (a === b) continue;
      const want = (layer.get(a) ?? 0) + 1;
      if (want > (layer.get(b) ?? 0) && want < hosts.length) { layer.set(b, want); changed = true; }
    }
    if (!changed) break;
  }
  const groups = new Map<string, string[]>();
  for (const h of hosts) { const r = find(h); const g = groups.get(r); if (g) g.push(h); else groups.set(r, [h]); }
  const maxLayer = Math.max(...hosts.map((h) => layer.get(h) ?? 0));
  const colW = maxLayer === 0 ? 0 : Math.min(300, (W - 2 * MARGIN_X) / maxLayer);
  const pos = new Map<string, { x: number; y: number }>();
  let y0 = MARGIN_Y;
  for (const [, g] of [...groups].sort((a, b) => a[0].localeCompare(b[0]))) {
    const byLayer = new Map<number, string[]>();
    for (const h of g.sort()) { const l = layer.get(h) ?? 0; const list = byLayer.get(l); if (list) list.push(h); else byLayer.set(l, [h]); }
    const rows = Math.max(...[...byLayer.values()].map((l) => l.length));
    // A wide fan-out packs its rows closer so that the picture stays a picture.
    const rowH = Math.max(70, Math.min(ROW_H, 1400 / rows));
    const gl = Math.max(...byLayer.keys());
    // A band narrower than the widest one is centred.
    const offset = (W - 2 * MARGIN_X - gl * colW) / 2;
    for (const [l, list] of byLayer) {
      list.forEach((h, i) => pos.set(h, { x: MARGIN_X + offset + l * colW, y: y0 + (i + (rows - list.length) / 2) * rowH + rowH / 2 }));
    }
    y0 += rows * rowH + BAND_GAP;
  }
  return { pos, height: y0 - BAND_GAP + MARGIN_Y };
}

export function renderGraph(hops: readonly GraphHop[], extraHosts: readonly string[] = []): string {
  const hosts = [...new Set([...hops.flatMap((h) => [h.source.toLowerCase(), h.destination.toLowerCase()]), ...extraHosts.map((h) => h.toLowerCase())])].sort();
  if (hosts.length === 0) return '<p class="muted">No hop between hosts was found.</p>';
  const { pos, height: H } = layout(hosts, hops.map((h) => [h.source.toLowerCase(), h.destination.toLowerCase()]));
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
    // Alternate sides for repeated hops; go round any host that sits on the straight line.
    const sign = n % 2 === 0 ? 1 : -1;
    let bend = sign * (20 + n * 40);
    const blocked = [...pos].some(([k, p]) => {
      if (k === h.source.toLowerCase() || k === h.destination.toLowerCase()) return false;
      const t = ((p.x - s.x) * dx + (p.y - s.y) * dy) / (len * len);
      return t > 0 && t < 1 && Math.hypot(s.x + t * dx - p.x, s.y + t * dy - p.y) < R_NODE + 24;
    });
    if (blocked) bend = sign * (R_NODE * 2 + 50 + n * 40);
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
