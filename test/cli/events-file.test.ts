// hunt's events.ndjson writer: batches land in order at their positions, and a line can be read back at any
// time, whether its batch is still being written or already on disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventsFile } from '../../cli/events-file.js';

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
