// Hops (who went where, as whom, when) from paired or attributable sessions, and what they add up to:
// chains, where a destination later opens a session of its own (A->B->C), and fan-out, one source reaching
// three or more destinations within minutes.
import type { Chain, FanOut, Hop, Session } from './session.js';

export interface HopOptions {
  /** How long after arriving on B a session from B still continues the chain. Default 1 h. */
  chainWindowMs?: number;
  /** Window for fan-out. Default 10 min. */
  fanoutWindowMs?: number;
  /** Distinct destinations that make a fan-out. Default 3. */
  fanoutMin?: number;
}

const short = (h: string): string => h.toLowerCase().split('.')[0];

export function hopOf(s: Session): Hop | undefined {
  if (!s.source.host || !s.destination.host) return undefined;
  const user = s.user.name ? (s.user.domain ? `${s.user.domain}\\${s.user.name}` : s.user.name) : s.source.user;
  const h: Hop = { type: 'hop', source: s.source.host, destination: s.destination.host, time: s.start, session_id: s.session_id };
  if (user) h.user = user;
  return h;
}

/** Collects hops and derives chains and fan-outs; pure over the hops given, in a stable order. */
export function analyzeHops(hops: Hop[], opts: HopOptions = {}): { chains: Chain[]; fanouts: FanOut[] } {
  const chainMs = opts.chainWindowMs ?? 3600_000;
  const fanMs = opts.fanoutWindowMs ?? 10 * 60_000;
  const fanMin = opts.fanoutMin ?? 3;
  const sorted = [...hops].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.session_id.localeCompare(b.session_id)));
  // Each hop's time and short host names, worked out once (the walks below compare every pair of hops:
  // a stream runs this whenever a session pairs, over a day of hops).
  const times = new Map<Hop, number>(), srcs = new Map<Hop, string>(), dsts = new Map<Hop, string>();
  const leaving = new Map<string, Hop[]>();
  for (const h of sorted) {
    times.set(h, Date.parse(h.time));
    const src = short(h.source);
    srcs.set(h, src);
    dsts.set(h, short(h.destination));
    const l = leaving.get(src);
    if (l) l.push(h); else leaving.set(src, [h]);
  }
  const t = (h: Hop): number => times.get(h)!;
  const s = (h: Hop): string => srcs.get(h)!;
  const d = (h: Hop): string => dsts.get(h)!;

  // Chains: extend each hop forward along later hops that leave its destination; keep maximal ones.
  // (The hops leaving a host, in sorted order: what filtering all of them by source gave.)
  const nexts = new Map<Hop, Hop[]>();
  const next = (h: Hop): Hop[] => {
    let n = nexts.get(h);
    if (n === undefined) {
      const th = t(h), sh = s(h);
      n = (leaving.get(d(h)) ?? []).filter((x) => t(x) >= th && t(x) - th <= chainMs && d(x) !== sh);
      nexts.set(h, n);
    }
    return n;
  };
  const chains: Chain[] = [];
  const isContinuation = new Set<Hop>();
  for (const h of sorted) for (const n of next(h)) isContinuation.add(n);
  const walk = (path: Hop[]): void => {
    const last = path[path.length - 1];
    const seen = new Set(path.map((p) => s(p)));
    const ns = next(last).filter((n) => !seen.has(d(n)));
    if (ns.length === 0) {
      if (path.length >= 2) {
        chains.push({
          type: 'chain',
          hosts: [path[0].source, ...path.map((p) => p.destination)],
          users: [...new Set(path.map((p) => p.user ?? ''))].filter((u) => u),
          start: path[0].time,
          end: last.time,
          session_ids: path.map((p) => p.session_id),
        });
      }
      return;
    }
    for (const n of ns) walk([...path, n]);
  };
  for (const h of sorted) if (!isContinuation.has(h)) walk([h]);

  // Fan-out: per source, the first window holding enough distinct destinations, then the next after it.
  const fanouts: FanOut[] = [];
  const bySource = new Map<string, Hop[]>();
  for (const h of sorted) {
    const k = s(h);
    const l = bySource.get(k);
    if (l) l.push(h); else bySource.set(k, [h]);
  }
  for (const [, list] of [...bySource].sort((a, b) => a[0].localeCompare(b[0]))) {
    let i = 0;
    while (i < list.length) {
      const win = list.filter((x) => t(x) >= t(list[i]) && t(x) - t(list[i]) <= fanMs);
      const dests = [...new Set(win.map((x) => d(x)))];
      if (dests.length >= fanMin) {
        fanouts.push({
          type: 'fanout', source: list[i].source, destinations: [...new Set(win.map((x) => x.destination))].sort(),
          start: win[0].time, end: win[win.length - 1].time, session_ids: win.map((x) => x.session_id),
        });
        // Always forward: a hop listed twice (indexOf finds its first place) must not send the walk back.
        i = Math.max(i + 1, list.lastIndexOf(win[win.length - 1]) + 1);
      } else i++;
    }
  }
  return { chains, fanouts };
}
