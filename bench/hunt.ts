// bench/hunt: `hoptrail hunt` over all of ../shared (EVTX corpus, damaged and large files, JSON datasets),
// end to end as whole processes: wall time, events/s, peak RSS, with the default worker threads and with
// one; then the three large logs of the corpus four times over (large logs are what most hunts read).
// The peer, timed in the same run: libevtx's `evtxexport` only parsing the EVTX files among the inputs
// (no normalizing, no detection, no JSON inputs): what the nearest native tool costs for part of the work.
// The floor, timed in the same run: the same inputs only read and written back, with no normalizing or
// detection: `hoptrail dump` over the EVTX files as two processes (split by size) and bench/floor-json
// over the JSON inputs as a third, all three at once on the machine's cores. Whatever hunt adds, it
// cannot run faster than that.
// Then the detector engine alone, in this process, on the same events held in memory.
// --copies N: also hunt N copies of ../shared at once (peak RSS must stay bounded as the input grows).
// Usage: npm run bench:hunt [-- --runs N] [--copies N]
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HuntEngine } from '../detectors/engine.js';
import { normalizeFiles } from '../ingest/pipeline.js';
import { expandPaths, isEvtxPath } from '../ingest/sources.js';
import type { NormalizedEvent } from '../schemas/event.js';
import { startLine, timeCommand, type Timing } from './processes.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHARED = process.env.HOPTRAIL_SHARED ?? join(ROOT, '..', 'shared');
const BIN = join(ROOT, 'bin', 'hoptrail.js');
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 3;
const copiesArg = process.argv.indexOf('--copies');
const COPIES = copiesArg > 0 ? Number(process.argv[copiesArg + 1]) : 0;

const FLOOR_JSON = join(ROOT, 'dist', 'bench', 'floor-json.js');

/** A path as one shell word. */
function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Files in two lists of about equal bytes (largest first, each to the lighter list). */
function halves(files: string[]): [string[], string[]] {
  const out: [string[], string[]] = [[], []];
  const sum = [0, 0];
  for (const [f, size] of files.map((f) => [f, statSync(f).size] as const).sort((x, y) => y[1] - x[1])) {
    const i = sum[0] <= sum[1] ? 0 : 1;
    out[i].push(f);
    sum[i] += size;
  }
  return out;
}

async function main(): Promise<void> {
  if (!existsSync(join(SHARED, 'corpus'))) {
    console.log(`bench/hunt: shared data not found at ${SHARED}; nothing to measure`);
    return;
  }
  const out = mkdtempSync(join(tmpdir(), 'hoptrail-bench-'));
  const clean = (): void => rmSync(join(out, 'o'), { recursive: true, force: true });
  const hunt = (extra: string[], input = SHARED): Timing => timeCommand([process.execPath, BIN, 'hunt', input, '--out', join(out, 'o'), ...extra], { runs: RUNS, setup: clean, stdout: true });
  try {
    const def = hunt([]);
    const events = Number(/(\d+) event\(s\)/.exec(def.stdout)?.[1] ?? 0);
    const sessions = Number(/(\d+) session\(s\)/.exec(def.stdout)?.[1] ?? 0);
    const one = hunt(['--threads', '1']);
    console.log(`bench/hunt over ${SHARED}: ${events} events, ${sessions} sessions; median of ${RUNS} runs, whole processes`);
    console.log(`  ${startLine(RUNS)}`);
    const row = (label: string, t: Timing, n = events, what = 'events'): void =>
      console.log(`  ${label.padEnd(50)} ${t.seconds.toFixed(2).padStart(6)} s ${(n / t.seconds).toFixed(0).padStart(8)} ${what}/s  peak RSS ${t.rssMB.toFixed(0)} MB  CPU ${t.cpu.toFixed(2)} s`);
    row('hoptrail hunt (default threads)', def);
    row('hoptrail hunt --threads 1', one);
    console.log(`  default threads / 1 thread: ${(one.seconds / def.seconds).toFixed(2)}x`);
    // Large logs, as an investigation mostly gets them: the three of corpus/large, four times over (copies).
    const large = join(out, 'large');
    const largeLogs = readdirSync(join(SHARED, 'corpus', 'large')).filter((f) => f.endsWith('.evtx'));
    for (let i = 0; i < 4; i++) for (const f of largeLogs) cpSync(join(SHARED, 'corpus', 'large', f), join(large, `${i}-${f}`));
    const big = hunt([], large);
    const bigEvents = Number(/(\d+) event\(s\)/.exec(big.stdout)?.[1] ?? 0);
    row(`hoptrail hunt, the large logs x4 (${bigEvents} events)`, big, bigEvents);
    rmSync(large, { recursive: true, force: true });
    if (COPIES > 1) {
      // Distinct files (copies, not links: inputs are listed once by their real path).
      const many = join(out, 'copies');
      for (let i = 0; i < COPIES; i++) cpSync(SHARED, join(many, String(i)), { recursive: true });
      const big = hunt([], many);
      const n = Number(/(\d+) event\(s\)/.exec(big.stdout)?.[1] ?? 0);
      row(`hoptrail hunt, ${COPIES} copies (${n} events)`, big, n);
      rmSync(many, { recursive: true, force: true });
    }

    const files = await expandPaths([SHARED]);
    const evtx = files.filter((f) => isEvtxPath(f));
    if (spawnSync('evtxexport', ['-V'], { stdio: 'ignore' }).status === 0) {
      const lib = timeCommand(['sh', '-c', 'for f; do evtxexport "$f" >/dev/null 2>&1; done; true', 'sh', ...evtx], { runs: RUNS });
      const records = Number(/(\d+) event\(s\)/.exec(spawnSync(process.execPath, [BIN, 'hunt', ...evtx, '--out', join(out, 'e')], { encoding: 'utf8' }).stdout)?.[1] ?? 0);
      row(`libevtx evtxexport, parse only (${evtx.length} EVTX)`, lib, records, 'records');
      console.log(`  hoptrail end to end (all inputs) / libevtx parsing the EVTX part: ${((events / def.seconds) / (records / lib.seconds)).toFixed(1)}x the rate`);
    } else console.log('  libevtx evtxexport not installed (apt-get install libevtx-utils): no peer');

    const json = files.filter((f) => !isEvtxPath(f));
    const [a, b] = halves(evtx);
    // Each process's output is checked: a floor that read nothing would be fast.
    const node = q(process.execPath);
    const floorCmd = `${node} ${q(BIN)} dump ${a.map(q).join(' ')} >/dev/null 2>&1 & A=$!; ${node} ${q(BIN)} dump ${b.map(q).join(' ')} >/dev/null 2>&1 & B=$!; ${node} ${q(FLOOR_JSON)} ${json.map(q).join(' ')} & C=$!; wait $A && wait $B && wait $C`;
    const floor = timeCommand(['sh', '-c', floorCmd], { runs: RUNS, stdout: true });
    const jsonRecords = Number(/^(\d+) record/.exec(floor.stdout)?.[1] ?? 0);
    if (jsonRecords === 0) throw new Error(`the floor read no JSON record: ${floor.stdout}`);
    row('floor: inputs read and written back only', floor);
    console.log(`  hoptrail end to end / the floor: ${(def.seconds / floor.seconds).toFixed(2)}x the time (the floor: hoptrail dump of the EVTX files as two processes, and the ${jsonRecords} records of the JSON inputs parsed and re-serialized as a third, all at once: no normalizing or detection)`);

    // The engine alone, on events already normalized and held in memory.
    const evs: NormalizedEvent[] = [];
    for await (const it of normalizeFiles(files)) if (it.kind === 'event') evs.push(it.event);
    let engineBest = Infinity;
    for (let r = 0; r < RUNS; r++) {
      const t0 = performance.now();
      const e = new HuntEngine({ batch: true });
      for (const ev of evs) e.push(ev);
      e.flush();
      engineBest = Math.min(engineBest, (performance.now() - t0) / 1000);
    }
    console.log(`  detector engine alone (events in memory, best of ${RUNS}): ${engineBest.toFixed(3)} s, ${(evs.length / engineBest).toFixed(0)} events/s`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

await main();
