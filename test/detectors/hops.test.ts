// analyzeHops with each hop's times and host names worked out once gives what comparing them pair by pair
// gave (the implementation before, kept here as the reference), on random hops over a few hosts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyzeHops, type HopOptions } from '../../detectors/hops.js';
import type { Chain, FanOut, Hop } from '../../detectors/session.js';
import { rng } from '../support/rng.js';

const short = (h: string): string => h.toLowerCase().split('.')[0];

function reference(hops: Hop[], opts: HopOptions = {}): { chains: Chain[]; fanouts: FanOut[] } {
  const chainMs = opts.chainWindowMs ?? 3600_000;
  const fanMs = opts.fanoutWindowMs ?? 10 * 60_000;
  const fanMin = opts.fanoutMin ?? 3;
  const sorted = [...hops].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.session_id.localeCompare(b.session_id)));
  const t = (h: Hop) => Date.parse(h.time);

  // Chains: extend each hop forward along later hops that leave its destination; keep maximal ones.
  const next = (h: Hop) => sorted.filter((x) => short(x.source) === short(h.destination) && t(x) >= t(h) && t(x) - t(h) <= chainMs && short(x.destination) !== short(h.source));
  const chains: Chain[] = [];
  const isContinuation = new Set<Hop>();
  for (const h of sorted) for (const n of next(h)) isContinuation.add(n);
  const walk = (path: Hop[]): void => {
    const last = path[path.length - 1];
    const seen = new Set(path.map((p) => short(p.source)));
    const ns = next(last).filter((n) => !seen.has(short(n.destination)));
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
    const k = short(h.source);
    const l = bySource.get(k);
    if (l) l.push(h); else bySource.set(k, [h]);
  }
  for (const [, list] of [...bySource].sort((a, b) => a[0].localeCompare(b[0]))) {
    let i = 0;
    while (i < list.length) {
      const win = list.filter((x) => t(x) >= t(list[i]) && t(x) - t(list[i]) <= fanMs);
      const dests = [...new Set(win.map((x) => short(x.destination)))];
      if (dests.length >= fanMin) {
        fanouts.push({
          type: 'fanout', source: list[i].source, destinations: [...new Set(win.map((x) => x.destination))].sort(),
          start: win[0].time, end: win[win.length - 1].time, session_ids: win.map((x) => x.session_id),
        });
        i = list.indexOf(win[win.length - 1]) + 1;
      } else i++;
    }
  }
  return { chains, fanouts };
}


test('analyzeHops: the chains and fan-outs of the pairwise reference', () => {
  const r = rng(5);
  const hosts = ['A', 'a.corp.local', 'B', 'b.CORP.local', 'C', 'D', 'e', 'F.x'];
  for (let round = 0; round < 300; round++) {
    const n = Math.floor(r() * 24);
    const hops: Hop[] = [];
    for (let i = 0; i < n; i++) {
      const src = hosts[Math.floor(r() * hosts.length)], dst = hosts[Math.floor(r() * hosts.length)];
      const t = Date.UTC(2024, 0, 1) + Math.floor(r() * 8) * 10 * 60_000 + (r() < 0.5 ? 0 : Math.floor(r() * 3) * 1000);
      const h: Hop = { type: 'hop', source: src, destination: dst, time: r() < 0.03 ? 'not a time' : new Date(t).toISOString(), session_id: `s${Math.floor(r() * 1000)}` };
      if (r() < 0.5) h.user = r() < 0.5 ? 'DOM\\alice' : 'bob';
      hops.push(h);
      if (r() < 0.05) hops.push({ ...h });
    }
    const opts: HopOptions = r() < 0.5 ? {} : { chainWindowMs: 20 * 60_000, fanoutWindowMs: 5 * 60_000, fanoutMin: 2 };
    assert.deepEqual(analyzeHops(hops, opts), reference(hops, opts), `round ${round}`);
  }
});

test('analyzeHops: a hop listed twice (the same object) ends, with its fan-out found once', () => {
  const at = (m: number): string => new Date(Date.UTC(2024, 0, 1, 0, m)).toISOString();
  // One time for all: the window from the second D holds every hop again, and its last is that D.
  const hops: Hop[] = ['B', 'C', 'D'].map((d, i) => ({ type: 'hop', source: 'A', destination: d, time: at(0), session_id: `s${i}` }));
  hops.push(hops[2]);
  const { fanouts } = analyzeHops(hops);
  assert.equal(fanouts.length, 1);
  assert.deepEqual(fanouts[0].destinations, ['B', 'C', 'D']);
});
