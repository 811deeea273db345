// bench/hunt: `hoptrail hunt` over all of ../shared (EVTX corpus, damaged and large files, JSON datasets),
// end to end in this one process: wall time, events/s, peak RSS. Then the detector engine alone on the
// same events held in memory, to show what the stream core costs beside parsing and normalizing.
// Run: npm run build && node dist/bench/hunt.js [runs]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../cli/hunt.js';
import { HuntEngine } from '../detectors/engine.js';
import { normalizeFiles } from '../ingest/pipeline.js';
import { expandPaths } from '../ingest/sources.js';
import type { NormalizedEvent } from '../schemas/event.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHARED = process.env.HOPTRAIL_SHARED ?? join(ROOT, '..', 'shared');
const RUNS = Number(process.argv[2] ?? 3);

const mb = (kb: number): string => (kb / 1024).toFixed(0);

async function endToEnd(): Promise<{ secs: number; cpu: number; events: number; sessions: number }> {
  const out = mkdtempSync(join(tmpdir(), 'hoptrail-bench-'));
  const write = process.stdout.write.bind(process.stdout);
  let said = '';
  process.stdout.write = ((s: string) => { said += s; return true; }) as typeof process.stdout.write;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  try {
    await run([SHARED, '--out', out]);
  } finally {
    process.stdout.write = write;
    rmSync(out, { recursive: true, force: true });
  }
  const secs = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  const events = Number(/(\d+) event\(s\)/.exec(said)?.[1] ?? 0);
  const sessions = Number(/(\d+) session\(s\)/.exec(said)?.[1] ?? 0);
  return { secs, cpu, events, sessions };
}

async function main(): Promise<void> {
  const rows: string[] = [];
  let best = Infinity, events = 0, sessions = 0;
  for (let r = 0; r < RUNS; r++) {
    const x = await endToEnd();
    rows.push(`  run ${r + 1}: wall ${x.secs.toFixed(2)} s (${(x.events / x.secs).toFixed(0)} events/s), CPU ${x.cpu.toFixed(2)} s (${(x.events / x.cpu).toFixed(0)} events per CPU-second)`);
    best = Math.min(best, x.secs);
    events = x.events;
    sessions = x.sessions;
  }
  const rssEnd = process.resourceUsage().maxRSS;

  // The engine alone, on events already normalized and held in memory.
  const evs: NormalizedEvent[] = [];
  const n0 = performance.now();
  for await (const it of normalizeFiles(await expandPaths([SHARED]))) if (it.kind === 'event') evs.push(it.event);
  const normSecs = (performance.now() - n0) / 1000;
  let engineBest = Infinity;
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    const e = new HuntEngine({ batch: true });
    for (const ev of evs) e.push(ev);
    e.flush();
    engineBest = Math.min(engineBest, (performance.now() - t0) / 1000);
  }

  process.stdout.write([
    `bench/hunt over ${SHARED}: ${events} events, ${sessions} sessions`,
    ...rows,
    `end to end (best of ${RUNS}): wall ${best.toFixed(2)} s, ${(events / best).toFixed(0)} events/s, peak RSS ${mb(rssEnd)} MB`,
    `parse + normalize alone (no detectors, no output): ${normSecs.toFixed(2)} s, ${(evs.length / normSecs).toFixed(0)} events/s`,
    `detector engine alone (events in memory): ${engineBest.toFixed(3)} s, ${(evs.length / engineBest).toFixed(0)} events/s`,
    `peak RSS including the in-memory copy: ${mb(process.resourceUsage().maxRSS)} MB`,
  ].join('\n') + '\n');
}

await main();
