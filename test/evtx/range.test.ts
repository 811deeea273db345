// A large log cut into ranges for the worker pool: the ranges give the whole-file read's records, and a
// file that shrank after it was planned (a live log cleared, a copy overwritten) says so in a warning
// instead of giving fewer records without a word.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readEvtx } from '../../ingest/evtx/index.js';
import { planEvtx, readEvtxRange } from '../../ingest/evtx/range.js';
import { SKIP_NO_SHARED, sharedPath } from '../support/shared.js';

const SECURITY = (): string => sharedPath('corpus', 'large', 'StolenSzechuan_DC_Security.evtx');

function rangeItems(file: string, from: number, to: number): { records: number; warnings: string[] } {
  let records = 0;
  const warnings: string[] = [];
  for (const items of readEvtxRange(file, from, to)) {
    for (const it of items) {
      if (it.kind === 'record') records++;
      else if (it.severity === 'warning') warnings.push(`${it.loc.chunk}@${it.loc.offset}: ${it.message}`);
    }
  }
  return { records, warnings };
}

test('ranges give the whole file\'s records; a file shrunk after planning is a warning naming where it ends', { skip: SKIP_NO_SHARED, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoptrail-range-'));
  try {
    const file = join(dir, 'Security.evtx');
    copyFileSync(SECURITY(), file);
    let whole = 0;
    for await (const it of readEvtx(file)) if (it.kind === 'record') whole++;
    const { blocks } = planEvtx(file);
    assert.ok(blocks > 40, `blocks: ${blocks}`);
    const cut = 32;
    const a = rangeItems(file, 0, cut), b = rangeItems(file, cut, blocks);
    assert.equal(a.records + b.records, whole, 'the two ranges give every record');
    assert.deepEqual(b.warnings.filter((w) => /changed while/.test(w)), [], 'a short last block is no shrinking');

    // The log is cut to 40 blocks and a half after it was planned.
    truncateSync(file, 4096 + 40 * 65536 + 30_000);
    const shrunk = rangeItems(file, cut, blocks);
    assert.ok(shrunk.records > 0 && shrunk.records < b.records, `records left: ${shrunk.records}`);
    const said = shrunk.warnings.filter((w) => /changed while/.test(w));
    assert.equal(said.length, 1, shrunk.warnings.join('\n'));
    assert.match(said[0], new RegExp(`^41@${4096 + 41 * 65536}: file ends at offset ${4096 + 40 * 65536 + 30_000}, before blocks 41 to ${blocks - 1}`));
    // A range wholly past the new end: nothing to read, and said so.
    const gone = rangeItems(file, 48, blocks);
    assert.equal(gone.records, 0);
    assert.equal(gone.warnings.filter((w) => /changed while/.test(w)).length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
