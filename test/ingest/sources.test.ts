// The directory walk every command uses: name order, links followed, a link loop walked once, and
// what is not a regular file (a FIFO would block the reader for ever), met there or named, reported instead of opened.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { walkInputs } from '../../ingest/sources.js';

test('walkInputs: files in name order, links followed, a loop walked once, a FIFO, a broken link and a ring of links reported, not opened', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hoptrail-walk-'));
  await mkdir(join(dir, 'sub'));
  await writeFile(join(dir, 'b.json'), '{}\n');
  await writeFile(join(dir, 'a.evtx'), '');
  await writeFile(join(dir, 'notes.txt'), 'not an input');
  await writeFile(join(dir, 'sub', 'c.jsonl'), '{}\n');
  await symlink(dir, join(dir, 'sub', 'loop'));
  await symlink(join(dir, 'b.json'), join(dir, 'sub', 'link.json'));
  await symlink(join(dir, 'gone.json'), join(dir, 'broken.json'));
  execFileSync('mkfifo', [join(dir, 'pipe.json')]);
  await symlink(join(dir, 'ring2.json'), join(dir, 'ring1.json'));
  await symlink(join(dir, 'ring1.json'), join(dir, 'ring2.json'));
  const got = [];
  for await (const i of walkInputs([dir])) got.push(i.error === undefined ? i.path.slice(dir.length + 1) : `${i.path.slice(dir.length + 1)}: ${i.error}`);
  assert.deepEqual(got, [
    'a.evtx',
    'b.json',
    'broken.json: skipped: a broken link, not a regular file',
    'pipe.json: skipped: a FIFO, not a regular file',
    'ring1.json: skipped: a link loop (ELOOP), not a regular file',
    'ring2.json: skipped: a link loop (ELOOP), not a regular file',
    'sub/c.jsonl',
    'sub/link.json',
  ]);
});

test('walkInputs: a file named on the command line is given as is, whatever its name; a FIFO named there is an error, not opened; a missing one is an error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hoptrail-walk-'));
  execFileSync('mkfifo', [join(dir, 'pipe')]);
  await writeFile(join(dir, 'notes.txt'), '{}\n');
  const got = [];
  for await (const i of walkInputs([join(dir, 'notes.txt'), join(dir, 'pipe'), join(dir, 'missing.json')])) got.push(i);
  assert.deepEqual(got, [
    { path: join(dir, 'notes.txt') },
    { path: join(dir, 'pipe'), error: 'a FIFO, not a regular file: not read (inputs are read more than once); save it to a file first' },
    { path: join(dir, 'missing.json'), error: 'cannot open: ENOENT' },
  ]);
});
