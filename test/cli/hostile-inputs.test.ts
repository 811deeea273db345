// Inputs a careless or hostile command line gives: pipes, devices, odd names, the same file twice. Each
// gets a clear word naming it, nothing hangs or reads for ever, and the other inputs are read all the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, SKIP_NO_SHARED, sharedPath } from '../support/shared.js';

const BIN = join(REPO_ROOT, 'bin', 'hoptrail.js');
const LOG = 'R1_RemotePowerShell_MS_Windows-Remote_Management_EventID_169.evtx';

type Run = { status: number | null; stdout: string; stderr: string };

/** Runs the CLI; status null means it was killed after `timeout` ms (a hang, or an endless read). */
function hoptrail(args: string[], timeout = 30_000): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout, maxBuffer: 1 << 26 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** As hoptrail(), its files held under 20 MB (ulimit -f): a run that feeds on its own output is killed, not left to fill the disk. */
function bounded(args: string[]): Run {
  const r = spawnSync('bash', ['-c', 'ulimit -f 20480; exec "$@"', 'sh', process.execPath, BIN, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000, maxBuffer: 1 << 26 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `dump FIFO` for a FIFO made as `fifo`, while a writer copies the corpus log into it, starting after
 * `delay` seconds; with `want`, the dump of the log itself.
 */
function dumpThroughFifo(fifo: string, delay = 0): { r: Run; want: Run; log: string } {
  const log = sharedPath('corpus', LOG);
  const want = hoptrail(['dump', log]);
  execFileSync('mkfifo', [fifo]);
  const r = spawnSync('bash', ['-c', '(sleep "$5"; cat "$1" > "$2") & exec "$3" "$4" dump "$2"', 'sh', log, fifo, process.execPath, BIN, String(delay)], { encoding: 'utf8', timeout: 30_000 });
  return { r: { status: r.status, stdout: r.stdout, stderr: r.stderr }, want, log };
}

/** Runs `body` with a directory of its own, removed after it whatever happens. */
function inTmp(body: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'hoptrail-hostile-'));
  try {
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('hunt and normalize: a FIFO or a device named on the command line is refused, named, not opened; the other inputs are read', { skip: SKIP_NO_SHARED, timeout: 120_000 }, () => {
  inTmp((dir) => {
    // No writer: opening it would wait for ever. /dev/zero never ends.
    const fifo = join(dir, 'pipe.evtx');
    execFileSync('mkfifo', [fifo]);
    const log = sharedPath('corpus', LOG);
    const n = hoptrail(['normalize', fifo, '/dev/zero', log]);
    assert.equal(n.status, 1, n.stderr);
    assert.equal(n.stdout.trim().split('\n').length, 10);
    assert.match(n.stderr, new RegExp(`^  unreadable: ${fifo}: a FIFO, not a regular file: not read`, 'm'));
    assert.match(n.stderr, /^ {2}unreadable: \/dev\/zero: a character device, not a regular file: not read/m);
    const h = hoptrail(['hunt', fifo, '/dev/zero', log, '--out', join(dir, 'out')]);
    assert.equal(h.status, 1, h.stderr);
    assert.match(h.stdout, /^hoptrail hunt: 1 input\(s\), 10 event\(s\)/);
    assert.match(h.stdout, new RegExp(`^  unreadable: ${fifo}: a FIFO, not a regular file: not read`, 'm'));
    assert.match(h.stdout, /^ {2}unreadable: \/dev\/zero: a character device, not a regular file/m);
  });
});

test('dump reads a FIFO named on the command line once, in order, as the file it carries', { skip: SKIP_NO_SHARED, timeout: 60_000 }, () => {
  inTmp((dir) => {
    // Named .json: neither the name nor a look at the first bytes (which would take them from the pipe) decides.
    const fifo = join(dir, 'pipe.json');
    const { r, want, log } = dumpThroughFifo(fifo);
    assert.equal(want.status, 0);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, want.stdout);
    assert.equal(r.stderr, want.stderr.replaceAll(log, fifo));
  });
});

test('hunt and normalize summaries: a file name with a line break or an escape sequence is one line, its control characters shown as \\xNN', { timeout: 60_000 }, () => {
  inTmp((dir) => {
    // Empty: unreadable as EVTX, so the summary names it.
    writeFileSync(join(dir, 'evil\n  unreadable: forged.evtx: \x1b[2Jnothing.evtx'), '');
    const want = `  unreadable: ${dir}/evil\\x0a  unreadable: forged.evtx: \\x1b[2Jnothing.evtx: not an EVTX file (too short)`;
    const n = hoptrail(['normalize', dir]);
    assert.equal(n.status, 1, n.stderr);
    assert.deepEqual(n.stderr.split('\n').filter((l) => l.startsWith('  unreadable:')), [want]);
    const h = hoptrail(['hunt', dir, '--out', join(dir, 'out')]);
    assert.equal(h.status, 1, h.stderr);
    assert.deepEqual(h.stdout.split('\n').filter((l) => l.startsWith('  unreadable:')), [want]);
  });
});

test('hunt and normalize read a file once when it is named twice, named and in a directory named, or linked to; a note says so', { skip: SKIP_NO_SHARED, timeout: 60_000 }, () => {
  inTmp((dir) => {
    const log = join(dir, 'a.evtx');
    copyFileSync(sharedPath('corpus', LOG), log);
    symlinkSync(log, join(dir, 'b.evtx'));
    const once = hoptrail(['normalize', log]);
    assert.equal(once.status, 0, once.stderr);
    const n = hoptrail(['normalize', log, dir, log]);
    assert.equal(n.status, 0, n.stderr);
    const lines = (out: string): string[] => out.split('\n').filter((l) => l !== '').map((l) => l.replace(/"ingested":"[^"]*"/, ''));
    assert.equal(lines(n.stdout).length, 10);
    assert.deepEqual(lines(n.stdout), lines(once.stdout));
    assert.deepEqual(n.stderr.split('\n').filter((l) => l.startsWith('  note:')), [
      `  note: ${dir}/a.evtx: named more than once, read once`,
      `  note: ${dir}/b.evtx: the same file as ${log}, read once`,
      `  note: ${log}: named more than once, read once`,
    ]);
    const h = hoptrail(['hunt', log, dir, '--out', join(dir, 'out')]);
    assert.equal(h.status, 0, h.stdout);
    assert.match(h.stdout, /^hoptrail hunt: 1 input\(s\), 10 event\(s\)/);
    assert.equal(readFileSync(join(dir, 'out', 'events.ndjson'), 'utf8').split('\n').length - 1, 10);
  });
});

test('a log header followed by blocks none of which is a chunk: hunt warns \'file holds no valid chunk\', as normalize on one thread does', { skip: SKIP_NO_SHARED, timeout: 60_000 }, () => {
  inTmp((dir) => {
    // Header, then 3 blocks of zeros (space never used) and one of garbage: the pool reads it as ranges.
    const log = join(dir, 'header-only.evtx');
    const garbage = Buffer.alloc(65536, 0x41);
    writeFileSync(log, Buffer.concat([readFileSync(sharedPath('corpus', LOG)).subarray(0, 4096), Buffer.alloc(3 * 65536), garbage]));
    const n = hoptrail(['normalize', log]);
    assert.equal(n.status, 0, n.stderr);
    const want = n.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => { const w = JSON.parse(l) as { source: string; message: string }; return { source: w.source, message: w.message }; });
    assert.ok(want.some((w) => w.message === 'file header, offset 0: file holds no valid chunk'), n.stderr);
    const h = hoptrail(['hunt', log, '--out', join(dir, 'out')]);
    assert.equal(h.status, 0, h.stdout);
    assert.deepEqual(readFileSync(join(dir, 'out', 'warnings.ndjson'), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l)), want);
  });
});

test('a directory walk names a file or directory whose name is not UTF-8, byte for byte, and says why it is not read', { timeout: 60_000 }, () => {
  inTmp((dir) => {
    // Names are bytes: made through Buffer paths, which node passes as they are.
    const bytes = (s: string, ...b: number[]): Buffer => Buffer.concat([Buffer.from(`${dir}/${s}`), Buffer.from(b)]);
    writeFileSync(bytes('bad', 0xff, 0xfe, 0x2e, 0x65, 0x76, 0x74, 0x78), '');
    mkdirSync(bytes('caf', 0xe9));
    writeFileSync(join(dir, 'ok.json'), '');
    const why = 'skipped: its name is not UTF-8 (each stray byte shown here as \\xNN), which hoptrail cannot open; rename it';
    const n = hoptrail(['normalize', dir]);
    assert.equal(n.status, 1, n.stderr);
    assert.deepEqual(n.stderr.split('\n').filter((l) => l.startsWith('  unreadable:')), [
      `  unreadable: ${dir}/bad\\xff\\xfe.evtx: ${why}`,
      `  unreadable: ${dir}/caf\\xe9: ${why}`,
    ]);
  });
});

test('outputs inside an input directory are not read: normalize\'s rejects file, hunt\'s --out files of a run before, an earlier hunt\'s output directory', { skip: SKIP_NO_SHARED, timeout: 120_000 }, () => {
  inTmp((dir) => {
    copyFileSync(sharedPath('corpus', LOG), join(dir, 'a.evtx'));
    writeFileSync(join(dir, 'b.json'), 'not json\n');
    // The second run finds the first run's rejects file among its inputs: it used to read it while
    // writing it, each reject rejected again, until the disk was full.
    const rejects = join(dir, 'rejects.ndjson');
    for (const run of [1, 2]) {
      const n = bounded(['normalize', dir, '--rejects', rejects]);
      assert.equal(n.status, 0, `run ${run} (null: killed, its file past 20 MB or after 30 s): ${n.stderr.slice(-500)}`);
      assert.match(n.stderr, /^hoptrail normalize: 2 input\(s\), 10 event\(s\), 1 reject\(s\)/m);
      assert.equal(readFileSync(rejects, 'utf8').split('\n').length - 1, 1);
    }
    assert.match(bounded(['normalize', dir, '--rejects', rejects]).stderr, new RegExp(`^  note: ${rejects}: an output of this run, not read$`, 'm'));
    rmSync(rejects);
    const out = join(dir, 'out');
    // The second run writes to the same directory, the third to another: an earlier hunt's output
    // directory, met in the walk, is passed over whole (its events.ndjson read would count every event
    // twice), with a note.
    for (const [run, to] of [[1, out], [2, out], [3, join(dir, 'out2')]] as const) {
      const h = bounded(['hunt', dir, '--out', to, '--threads', '1']);
      assert.equal(h.status, 0, `run ${run}: ${h.stdout.slice(-500)}${h.stderr.slice(-500)}`);
      assert.match(h.stdout, /^hoptrail hunt: 2 input\(s\), 10 event\(s\), 1 reject\(s\)/);
      if (run > 1) assert.match(h.stdout, new RegExp(`^  note: ${out}: an earlier hunt's output directory \\(events.ndjson, .*\\): not read; name its events.ndjson to read its events$`, 'm'));
    }
    // Named on the command line, it is read as asked.
    assert.match(bounded(['hunt', out, '--out', join(dir, 'out3'), '--threads', '1']).stdout, /^hoptrail hunt: \d+ input\(s\), 10 event\(s\)/);
    // Outputs written beside the logs, in the directory named: each output file is passed over by itself.
    bounded(['hunt', dir, '--out', dir, '--threads', '1']);
    const again = bounded(['hunt', dir, '--out', dir, '--threads', '1']).stdout;
    assert.match(again, /^hoptrail hunt: 2 input\(s\), 10 event\(s\), 1 reject\(s\)/);
    assert.match(again, new RegExp(`^  note: ${dir}/events.ndjson: an output of this run, not read$`, 'm'));
  });
});

test('hunt: a 15 MB JSON record of five million empty objects is one reject, not the end of hunt (a worker out of memory)', { skip: SKIP_NO_SHARED, timeout: 120_000 }, () => {
  inTmp((dir) => {
    // hoptrail dump's lines are an input hunt reads; one of them padded with `"x":[{},{},...]`.
    const lines = hoptrail(['dump', sharedPath('corpus', LOG)]).stdout.trim().split('\n');
    const bloated = `${lines[0].slice(0, -1)},"x":[${'{},'.repeat(5_000_000)}{}]}`;
    const file = join(dir, 'bloated.json');
    writeFileSync(file, [lines[0], bloated, ...lines.slice(1)].join('\n') + '\n');
    const h = hoptrail(['hunt', file, '--out', join(dir, 'out'), '--threads', '2'], 60_000);
    assert.equal(h.status, 0, `${h.stdout.slice(-300)}${h.stderr.slice(-1500)}`);
    assert.match(h.stdout, new RegExp(`^hoptrail hunt: 1 input\\(s\\), ${lines.length} event\\(s\\), 1 reject\\(s\\)`));
    const r = JSON.parse(readFileSync(join(dir, 'out', 'rejects.ndjson'), 'utf8')) as { source: string; position: string; reason: string };
    assert.equal(r.source, file);
    assert.match(r.position, /^line 2, offset \d+$/);
    assert.match(r.reason, /^record larger than \d+ bytes$/);
  });
});

test('dump of a FIFO with no writer yet says that it waits, then reads the writer that comes', { skip: SKIP_NO_SHARED, timeout: 60_000 }, () => {
  inTmp((dir) => {
    const fifo = join(dir, 'later.evtx');
    const { r, want, log } = dumpThroughFifo(fifo, 3);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, want.stdout);
    const [first, ...rest] = r.stderr.split('\n');
    assert.deepEqual(JSON.parse(first), { level: 'warning', file: fifo, message: 'a FIFO with no writer yet: waiting for one (Ctrl-C to stop)' });
    assert.equal(rest.join('\n'), want.stderr.replaceAll(log, fifo));
  });
});
