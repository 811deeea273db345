// bench/parse: `hoptrail dump` (JSON lines) against libevtx's `evtxexport` (Debian libevtx-utils), both
// timed in this run on the same files, as whole processes writing to /dev/null.
// Usage: npm run bench:parse [-- --runs N]
// Prints records/s and MB/s, single-threaded and with --threads 2, peak RSS, and the ratios to libevtx;
// and what two cores give this machine at most: two single-threaded dumps of the same input at once.

import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CA_SET, CA_VAR, startLine, timeCommand, type Timing } from './processes.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const SHARED = process.env.HOPTRAIL_SHARED ?? join(ROOT, '..', 'shared');
const BIN = join(ROOT, 'bin', 'hoptrail.js');
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 3;

/** Wall-clock figures mean little on a busy machine: say how busy it was. */
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

function countRecords(files: string[]): number {
  const r = spawnSync(process.execPath, [BIN, 'dump', '--no-recover', ...files], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] });
  return r.stdout.split('\n').filter((l) => l !== '').length;
}

function main(): void {
  if (!existsSync(join(SHARED, 'corpus'))) {
    console.log(`bench/parse: shared corpus not found at ${SHARED}; nothing to measure`);
    return;
  }
  const haveLibevtx = spawnSync('evtxexport', ['-V'], { stdio: 'ignore' }).status === 0;
  const sets: { name: string; files: string[] }[] = [
    { name: 'large/StolenSzechuan_DC_System.evtx', files: [join(SHARED, 'corpus', 'large', 'StolenSzechuan_DC_System.evtx')] },
    // The same file five times in one process: the rate once start-up and JIT warm-up are paid, as when
    // an evidence set of many logs is dumped at once.
    { name: 'large/StolenSzechuan_DC_System.evtx x5 in one process', files: Array(5).fill(join(SHARED, 'corpus', 'large', 'StolenSzechuan_DC_System.evtx')) },
    { name: 'corpus/*.evtx (24 files)', files: readdirSync(join(SHARED, 'corpus')).filter((f) => f.endsWith('.evtx')).sort().map((f) => join(SHARED, 'corpus', f)) },
  ];
  console.log(`bench/parse: median of ${RUNS} runs each; whole processes (start-up included), output to /dev/null; load average ${load()}`);
  console.log(startLine(RUNS));
  for (const [k, set] of sets.entries()) {
    const bytes = set.files.reduce((n, f) => n + statSync(f).size, 0);
    const records = countRecords(set.files);
    const row = (label: string, t: Timing) =>
      console.log(`  ${label.padEnd(30)} ${t.seconds.toFixed(2).padStart(6)} s ${(records / t.seconds).toFixed(0).padStart(9)} records/s ${(bytes / 1048576 / t.seconds).toFixed(1).padStart(7)} MB/s  CPU ${t.cpu.toFixed(2)} s  peak RSS ${t.rssMB.toFixed(0)} MB`);
    console.log(`\n${set.name}: ${records} records, ${(bytes / 1048576).toFixed(1)} MB (load average ${load()})`);
    const one = timeCommand([process.execPath, BIN, 'dump', '--no-recover', ...set.files], { runs: RUNS });
    row('hoptrail dump (1 thread)', one);
    if (CA_SET && k === 0) row(`  the same with ${CA_VAR}`, timeCommand([process.execPath, BIN, 'dump', '--no-recover', ...set.files], { runs: RUNS, env: process.env }));
    const two = timeCommand([process.execPath, BIN, 'dump', '--no-recover', '--threads', '2', ...set.files], { runs: RUNS });
    row('hoptrail dump --threads 2', two);
    // Two threads can do no better than two processes that share nothing: on a VM's two vCPUs they may
    // share a physical core's caches, so this ceiling can sit well under 2x.
    const pair = timeCommand(['sh', '-c', '"$0" "$@" & "$0" "$@" & wait', process.execPath, BIN, 'dump', '--no-recover', ...set.files], { runs: RUNS });
    console.log(`  two 1-thread dumps at once ${pair.seconds.toFixed(2).padStart(9)} s: this machine's ceiling for 2 threads ${((2 * one.seconds) / pair.seconds).toFixed(2)}x (2 threads reach ${(one.seconds / two.seconds).toFixed(2)}x)`);
    if (haveLibevtx) {
      const lib = timeCommand(['sh', '-c', 'for f; do evtxexport "$f"; done', 'sh', ...set.files], { runs: RUNS });
      row('libevtx evtxexport', lib);
      console.log(`  ratio to libevtx: ${(lib.seconds / one.seconds).toFixed(1)}x single-threaded, ${(lib.seconds / two.seconds).toFixed(1)}x with 2 threads; 2 threads / 1 thread: ${(one.seconds / two.seconds).toFixed(2)}x (load average now ${load()})`);
    } else {
      console.log('  libevtx evtxexport not installed (apt-get install libevtx-utils): no ratio');
    }
  }
}

main();
