// Shared loading for the detector tests: the datasets normalized once per test file, and a helper that
// runs the engine over events in a given push order and partition split.
import type { NormalizedEvent } from '../../schemas/event.js';
import { normalizeFiles } from '../../ingest/pipeline.js';
import { expandPaths } from '../../ingest/sources.js';
import { HuntEngine, type EngineOptions } from '../../detectors/engine.js';
import type { HuntOutput, Session } from '../../detectors/session.js';

const cache = new Map<string, Promise<NormalizedEvent[]>>();

export function loadEvents(...paths: string[]): Promise<NormalizedEvent[]> {
  const k = paths.join('\0');
  let p = cache.get(k);
  if (!p) {
    p = (async () => {
      const files = await expandPaths(paths);
      const out: NormalizedEvent[] = [];
      for await (const it of normalizeFiles(files)) if (it.kind === 'event') out.push(it.event);
      return out;
    })();
    cache.set(k, p);
  }
  return p;
}

/** Runs the engine over events in the order given; with `parts`, as partitions all declared up front. */
export function hunt(events: NormalizedEvent[], opts: EngineOptions = {}, parts?: string[]): HuntOutput[] {
  const engine = new HuntEngine(opts);
  const out: HuntOutput[] = [];
  if (!parts) {
    for (const e of events) out.push(...engine.push(e));
    out.push(...engine.drain());
  } else {
    // parts[i] is the partition of events[i]; partitions are pushed one after another, like files.
    const names = [...new Set(parts)].sort();
    for (const n of names) engine.openPartition(n);
    for (const n of names) {
      events.forEach((e, i) => { if (parts[i] === n) out.push(...engine.push(e, n)); });
      engine.closePartition(n);
      out.push(...engine.drain());
    }
  }
  out.push(...engine.flush());
  return out;
}

export function sessionsOf(out: HuntOutput[]): Session[] {
  return out.flatMap((o) => (o.kind === 'session' ? [o.session] : [])).sort((a, b) => a.session_id.localeCompare(b.session_id));
}

export { rng } from '../support/rng.js';
