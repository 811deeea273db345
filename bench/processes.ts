// How the benchmarks run and time whole processes (hoptrail's and its peers'), and in which environment.
//
// Node 20 with OpenSSL 3 parses the CA bundle that NODE_EXTRA_CA_CERTS names at every process start,
// before any script runs (nodejs/node#40524, openssl/openssl#16871): ~40 ms on this machine, where it is
// set for the machine's proxies. `dump`, and `hunt` without --es, open no TLS connection, so hoptrail's runs
// are timed without it, and each benchmark prints node's own start-up both ways.
import { spawnSync } from 'node:child_process';

export const CA_VAR = 'NODE_EXTRA_CA_CERTS';
export const CA_SET = process.env[CA_VAR] !== undefined;
export const NO_CA: NodeJS.ProcessEnv = { ...process.env };
delete NO_CA[CA_VAR];

/** Median wall seconds of `node -e 0` in an environment. */
function nodeStart(env: NodeJS.ProcessEnv, runs: number): number {
  const t: number[] = [];
  for (let i = 0; i < Math.max(runs, 5); i++) {
    const t0 = performance.now();
    spawnSync(process.execPath, ['-e', '0'], { env, stdio: 'ignore' });
    t.push((performance.now() - t0) / 1000);
  }
  return t.sort((a, b) => a - b)[t.length >> 1];
}

/** One line on node's own start-up here, with and without the CA bundle when it is set. */
export function startLine(runs: number): string {
  const bare = nodeStart(NO_CA, runs);
  if (!CA_SET) return `node's own start-up (node -e 0): ${bare.toFixed(3)} s`;
  return `node's own start-up (node -e 0): ${bare.toFixed(3)} s; ${nodeStart(process.env, runs).toFixed(3)} s with ${CA_VAR} (set here): hoptrail's runs are timed without it, as they open no TLS connection`;
}

/** cpu: user + system seconds of the whole process (all threads): on a shared machine, steadier than wall. */
export interface Timing { seconds: number; cpu: number; rssMB: number; stdout: string }

export interface TimeOptions {
  runs: number;
  /** Default: without the CA bundle (see above). */
  env?: NodeJS.ProcessEnv;
  /** Run before each run (an output directory emptied). */
  setup?: () => void;
  /** Keep the command's standard output (else it goes to /dev/null, unread). */
  stdout?: boolean;
}

/**
 * Wall time (the clock around the run: GNU time's is in hundredths), CPU time and peak RSS (GNU time) of a
 * command; of `runs` runs, the one of median wall time.
 */
export function timeCommand(cmd: string[], o: TimeOptions): Timing {
  const samples: Timing[] = [];
  for (let i = 0; i < o.runs; i++) {
    o.setup?.();
    const t0 = performance.now();
    const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', ...cmd], { encoding: 'utf8', stdio: ['ignore', o.stdout ? 'pipe' : 'ignore', 'pipe'], maxBuffer: 1 << 26, env: o.env ?? NO_CA });
    const seconds = (performance.now() - t0) / 1000;
    const last = r.stderr.trim().split('\n').pop() ?? '';
    const [sec, user, sys, kb] = last.split(' ').map(Number);
    if (r.status !== 0 || !Number.isFinite(sec)) throw new Error(`${cmd.join(' ')} failed (${r.status}): ${r.stderr.slice(-500)}`);
    samples.push({ seconds, cpu: user + sys, rssMB: kb / 1024, stdout: r.stdout ?? '' });
  }
  samples.sort((a, b) => a.seconds - b.seconds);
  return samples[Math.floor(samples.length / 2)];
}
