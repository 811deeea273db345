// Reaching the real test servers started by scripts/es.sh and scripts/kafka.sh. When a server is not
// reachable, tests fail under CI (the servers are part of the CI contract) and skip with a reason elsewhere.
import { execFile } from 'node:child_process';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../support/shared.js';

export const ES_URL = process.env.HOPTRAIL_ES_URL ?? 'http://127.0.0.1:9200';
export const KAFKA_BROKERS = (process.env.HOPTRAIL_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
export const IN_CI = Boolean(process.env.CI);

const run = promisify(execFile);

/** True when the cluster answers _cluster/health (root GET / may not exist on the minimal server). */
export async function esReachable(url = ES_URL): Promise<boolean> {
  try {
    const res = await fetch(new URL('/_cluster/health', url), { signal: AbortSignal.timeout(3000) });
    return res.status < 500 || res.status === 503;
  } catch {
    return false;
  }
}

export function tcpReachable(hostPort: string, timeoutMs = 3000): Promise<boolean> {
  const i = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, i);
  const port = Number(hostPort.slice(i + 1));
  return new Promise((resolve) => {
    const s = netConnect({ host, port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * The `skip` option for a server-backed test: false when reachable, or under CI (the test body then
 * fails with `unreachable`), else the reason to skip.
 */
export function skipUnlessReachable(reachable: boolean, what: string, where: string): string | false {
  if (reachable || IN_CI) return false;
  return `${what} not reachable at ${where} (start it with scripts/services.sh up)`;
}

/** Runs scripts/es.sh with the port of ES_URL, so the test drives the same server it talks to. */
export async function esScript(cmd: 'start' | 'stop' | 'status'): Promise<string> {
  const port = new URL(ES_URL).port || '9200';
  const { stdout, stderr } = await run(join(REPO_ROOT, 'scripts', 'es.sh'), [cmd], {
    env: { ...process.env, HOPTRAIL_ES_PORT: port },
    timeout: 300_000,
  });
  return stdout + stderr;
}
