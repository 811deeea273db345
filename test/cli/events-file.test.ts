// hunt's events.ndjson writer: batches land in order at their positions, and a line can be read back at any
// time, whether its batch is still being written or already on disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventsFile } from '../../cli/events-file.js';
import { OutputFile } from '../../cli/output-files.js';

test('events.ndjson: batches in order, every line readable while written and after', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'hoptrail-events-')), 'events.ndjson');
  const f = new EventsFile(path);
  const lines: { text: string; read: () => string }[] = [];
  let all = '';
  for (let b = 0; b < 40; b++) {
    // Batches of a few hundred KiB, non-ASCII text among them: positions are bytes, not characters.
    const batch: string[] = [];
    for (let i = 0; i < 200; i++) batch.push(JSON.stringify({ b, i, s: `Grüße ${'x'.repeat((b * 7 + i) % 1500)} ✓` }));
    const bytes = Buffer.from(batch.join('\n') + '\n');
    const at = await f.write(bytes);
    assert.equal(at, Buffer.byteLength(all));
    let off = at;
    for (const t of batch) {
      const len = Buffer.byteLength(t);
      const stored = f.line(off, off + len);
      lines.push({ text: t, read: () => stored.text() });
      off += len + 1;
    }
    // Read back at once: the batch may well still be in flight.
    assert.equal(lines[lines.length - 1].read(), batch[batch.length - 1]);
    all += batch.join('\n') + '\n';
  }
  for (const l of lines) assert.equal(l.read(), l.text);
  await f.close();
  assert.equal(readFileSync(path, 'utf8'), all);
});

test('outputs of an earlier run are replaced by new files, not truncated; a symlink is written through', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoptrail-events-'));
  const path = join(dir, 'events.ndjson');
  writeFileSync(path, 'the earlier run\n');
  const before = statSync(path).ino;
  // A reader of the earlier file (a tail -f, a viewer) keeps reading what it opened.
  const held = openSync(path, 'r');
  try {
    const f = new EventsFile(path);
    await f.write(Buffer.from('{"new":1}\n'));
    await f.close();
    assert.notEqual(statSync(path).ino, before, 'a new file (ext4 flushes a truncated one at close)');
    assert.equal(readFileSync(path, 'utf8'), '{"new":1}\n');
    const b = Buffer.alloc(64);
    assert.equal(b.toString('utf8', 0, readSync(held, b, 0, 64, 0)), 'the earlier run\n');
  } finally {
    closeSync(held);
  }
  // A symlink the user put there (to /dev/null, to another disk) is kept and written through.
  const target = join(dir, 'elsewhere.csv');
  writeFileSync(target, 'old');
  symlinkSync(target, join(dir, 'timeline.csv'));
  const o = await OutputFile.open(join(dir, 'timeline.csv'));
  await o.write('time\r\n');
  await o.end();
  assert.equal(readFileSync(target, 'utf8'), 'time\r\n');
});
