// Real events for the findings tests: files normalized once per test process and run through the session
// engine (issue 4), so the rules see exactly what `hoptrail hunt` gives them.
import type { NormalizedEvent } from '../../schemas/event.js';
import { normalizeFiles } from '../../ingest/pipeline.js';
import { expandPaths } from '../../ingest/sources.js';
import { HuntEngine } from '../../detectors/engine.js';
import type { Chain, FanOut, Hop, Session } from '../../detectors/session.js';

export interface Hunted { events: NormalizedEvent[]; sessions: Session[]; hops: Hop[]; chains: Chain[]; fanouts: FanOut[] }

const cache = new Map<string, Promise<Hunted>>();

export function huntFiles(...paths: string[]): Promise<Hunted> {
  const k = paths.join('\0');
  let p = cache.get(k);
  if (!p) {
    p = (async () => {
      const files = await expandPaths(paths);
      const events: NormalizedEvent[] = [];
      for await (const it of normalizeFiles(files)) if (it.kind === 'event') events.push(it.event);
      return { events, ...huntEvents(events) };
    })();
    cache.set(k, p);
  }
  return p;
}

export function huntEvents(events: readonly NormalizedEvent[]): Omit<Hunted, 'events'> {
  const engine = new HuntEngine();
  const out = [];
  for (const e of events) out.push(...engine.push(e));
  out.push(...engine.drain(), ...engine.flush());
  return {
    sessions: out.flatMap((o) => (o.kind === 'session' ? [o.session] : [])),
    hops: out.flatMap((o) => (o.kind === 'hop' ? [o.hop] : [])),
    chains: out.flatMap((o) => (o.kind === 'chain' ? [o.chain] : [])),
    fanouts: out.flatMap((o) => (o.kind === 'fanout' ? [o.fanout] : [])),
  };
}
