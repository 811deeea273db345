// hunt's memory does not grow with the evidence. The inputs are copies, not links: hunt reads a file
// named twice (or linked to) once, so links would measure one copy against itself.
// - Five copies of the 60 000-record System log peak within a bounded margin of one copy. (The workers
//   once dropped each EVTX range's grown batch buffer to a collection that seldom came: 55 MB more per
//   copy, 480 MB for six.)
// - Ten copies of a domain controller's Security log, whose logons the batch engine holds to the end: past
//   a budget they are held as places in events.ndjson, not as objects. (As objects: +193 MB for nine more
//   copies, +15 MB per copy; now +78 MB, most of it the budget, then ~3 MB per copy.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT, SKIP_NO_SHARED, sharedPath } from '../support/shared.js';

/** Peak RSS (MB) of a whole `hoptrail hunt` process, as the process itself measures it. */
function huntPeakMB(dir: string, input: string, out: string): number {
  const main = pathToFileURL(join(REPO_ROOT, 'dist', 'cli', 'main.js')).href;
  const script = `const { main } = await import(${JSON.stringify(main)});
const code = await main(['hunt', ${JSON.stringify(input)}, '--out', ${JSON.stringify(out)}, '--threads', '1']);
process.stderr.write('MAXRSS ' + process.resourceUsage().maxRSS + '\\n');
process.exitCode = code;`;
  // A script file, not -e: the workers would inherit -e's flags.
  const file = join(dir, 'hunt-rss.mjs');
  writeFileSync(file, script);
  const r = spawnSync(process.execPath, [file], { encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  // Each copy is read: none was taken for another (hunt says so in a note).
  assert.doesNotMatch(r.stdout, /read once/, r.stdout.slice(-2000));
  const kb = Number(/MAXRSS (\d+)/.exec(r.stderr)?.[1]);
  assert.ok(kb > 0, r.stderr.slice(-2000));
  return kb / 1024;
}

/** Peak RSS of a hunt of one copy of `log`, and of `n` copies. */
function peaks(log: string, n: number): { one: number; many: number } {
  const dir = mkdtempSync(join(tmpdir(), 'hoptrail-mem-'));
  try {
    for (const k of [1, n]) {
      mkdirSync(join(dir, `in${k}`));
      for (let i = 0; i < k; i++) copyFileSync(log, join(dir, `in${k}`, `copy${i}.evtx`));
    }
    return { one: huntPeakMB(dir, join(dir, 'in1'), join(dir, 'out1')), many: huntPeakMB(dir, join(dir, `in${n}`), join(dir, `out${n}`)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('hunt: peak memory does not grow with the number of large logs', { skip: SKIP_NO_SHARED, timeout: 240_000 }, () => {
  const { one, many } = peaks(sharedPath('corpus', 'large', 'StolenSzechuan_DC_System.evtx'), 5);
  // Measured: 1 copy ~127 MB, 5 copies ~146 MB (before the fix: +220 MB).
  assert.ok(many - one < 80, `peak RSS ${one.toFixed(0)} MB for one copy, ${many.toFixed(0)} MB for five`);
});

test('hunt: the events held to the end do not grow memory by their full size', { skip: SKIP_NO_SHARED, timeout: 240_000 }, () => {
  const { one, many } = peaks(sharedPath('corpus', 'large', 'StolenSzechuan_DC_Security.evtx'), 10);
  // Measured: 1 copy ~130 MB, 10 copies ~208 MB; held as objects, 323 MB.
  assert.ok(many - one < 130, `peak RSS ${one.toFixed(0)} MB for one copy, ${many.toFixed(0)} MB for ten`);
});
