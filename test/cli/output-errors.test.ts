// Outputs that cannot be made or written: one line naming the path and the reason, exit 1, and the
// process ends (no stack trace, no wait for ever). A disk that fills up is /dev/full: every write to it
// fails with ENOSPC.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, SKIP_NO_SHARED, sharedPath } from '../support/shared.js';

const BIN = join(REPO_ROOT, 'bin', 'hoptrail.js');

function hoptrail(args: string[], stdout: 'pipe' | number = 'pipe'): { code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', stdio: ['ignore', stdout, 'pipe'], timeout: 60_000, maxBuffer: 1 << 26 });
  return { code: r.status, stderr: r.stderr };
}

function saysOneLine(r: { code: number | null; stderr: string }, pattern: RegExp, what: string): void {
  assert.equal(r.code, 1, `${what}: exit code (null: killed after the timeout): ${r.stderr.slice(-1500)}`);
  assert.match(r.stderr, pattern, what);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `${what}: no stack trace`);
}

test('hunt --out: a path through a file, a file, a directory the system will not make, a full disk', { skip: SKIP_NO_SHARED, timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoptrail-outerr-'));
  try {
    const input = sharedPath('corpus', 'R1_RemotePowerShell_MS_Windows-Remote_Management_EventID_169.evtx');
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    saysOneLine(hoptrail(['hunt', input, '--out', file]), /^hoptrail hunt: cannot write .*a-file: it exists and is not a directory$/m, 'a file');
    saysOneLine(hoptrail(['hunt', input, '--out', join(file, 'sub')]), /^hoptrail hunt: cannot write .*a-file\/sub: ENOTDIR/m, 'through a file');
    // Node's own recursive mkdir spins for ever here.
    if (existsSync('/proc/self')) saysOneLine(hoptrail(['hunt', input, '--out', '/proc/hoptrail-no-such-dir/out']), /^hoptrail hunt: cannot write \/proc\/hoptrail-no-such-dir/m, '/proc');
    if (existsSync('/dev/full')) {
      // events.ndjson leads to a full disk: the first batch written fails, the workers are let go.
      const out = join(dir, 'full');
      mkdirSync(out);
      symlinkSync('/dev/full', join(out, 'events.ndjson'));
      saysOneLine(hoptrail(['hunt', sharedPath('corpus', 'large', 'StolenSzechuan_DC_Security.evtx'), '--out', out, '--threads', '2']), /^hoptrail hunt: cannot write .*events\.ndjson: ENOSPC/m, 'full disk');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('normalize: a rejects file that cannot be opened, and standard output on a full disk', { skip: SKIP_NO_SHARED, timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoptrail-outerr-'));
  try {
    const input = sharedPath('corpus', 'large', 'StolenSzechuan_DC_Security.evtx');
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    saysOneLine(hoptrail(['normalize', input, '--rejects', join(file, 'rejects.ndjson')]), /^hoptrail normalize: cannot write .*a-file\/rejects\.ndjson: ENOTDIR/m, 'rejects through a file');
    if (existsSync('/dev/full')) {
      const fd = openSync('/dev/full', 'w');
      try {
        for (const threads of [[], ['--threads', '2']]) {
          saysOneLine(hoptrail(['normalize', input, ...threads], fd), /^hoptrail normalize: cannot write standard output: ENOSPC/m, `stdout full ${threads.join(' ')}`);
        }
      } finally {
        closeSync(fd);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dashboards export: standard output on a full disk', { skip: existsSync('/dev/full') ? false : 'no /dev/full here' }, () => {
  const fd = openSync('/dev/full', 'w');
  try {
    saysOneLine(hoptrail(['dashboards', 'export'], fd), /^hoptrail dashboards: cannot write standard output: ENOSPC/m, 'dashboards');
  } finally {
    closeSync(fd);
  }
});

test('dump: standard output on a full disk, on one thread and with workers', { skip: SKIP_NO_SHARED || (existsSync('/dev/full') ? false : 'no /dev/full here'), timeout: 120_000 }, () => {
  const fd = openSync('/dev/full', 'w');
  try {
    const log = sharedPath('corpus', 'large', 'StolenSzechuan_DC_Security.evtx');
    for (const threads of [[], ['--threads', '2']]) {
      saysOneLine(hoptrail(['dump', log, log, log, log, log, log, ...threads], fd), /^hoptrail dump: cannot write standard output: ENOSPC/m, `dump ${threads.join(' ')}`);
    }
  } finally {
    closeSync(fd);
  }
});
