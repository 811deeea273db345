// 4104 reassembly on real multi-part script blocks (a 12 MB PowerShell/Operational log): every block
// completes, duplicates of a finished block are not new blocks, and arrival order inside a block does not
// matter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SKIP_NO_SHARED, sharedPath } from '../support/shared.js';
import { loadEvents, rng } from './support.js';
import { ScriptBlockAssembler, type ScriptBlock } from '../../detectors/scriptblocks.js';

const FILE = ['corpus', 'large', 'BelkasoftCTF_PowerShell-Operational.evtx'];

test('real multi-part 4104 blocks join completely, in part order', { skip: SKIP_NO_SHARED }, async () => {
  const all = (await loadEvents(sharedPath(...FILE))).filter((e) => e.winlog.event_id === 4104);
  assert.equal(all.length, 335);
  const a = new ScriptBlockAssembler();
  const blocks: ScriptBlock[] = [];
  for (const e of all) blocks.push(...a.add(e));
  blocks.push(...a.flush());
  const multi = blocks.filter((b) => b.parts.length > 1);
  assert.equal(multi.length, 45);
  assert.equal(blocks.filter((b) => b.partial).length, 0);
  for (const b of multi) {
    assert.deepEqual(b.parts.map((p) => p.powershell?.sequence), Array.from({ length: b.parts.length }, (_, i) => i + 1));
    assert.equal(b.text, b.parts.map((p) => p.powershell?.file?.script_block_text ?? '').join(''));
  }
  const big = multi.find((b) => b.event.powershell?.file?.script_block_id === '94716315-ef0c-4bf7-99d6-898bc342124d');
  assert.equal(big?.parts.length, 30);

  // Shuffled arrival: the same texts.
  const r = rng(3);
  const shuffled = [...all].sort(() => r() - 0.5);
  const b2 = new ScriptBlockAssembler();
  const again: ScriptBlock[] = [];
  for (const e of shuffled) again.push(...b2.add(e));
  again.push(...b2.flush());
  const texts = (bs: ScriptBlock[]) => bs.filter((b) => b.parts.length > 1).map((b) => b.text).sort();
  assert.deepEqual(texts(again), texts(blocks));
});

test('a missing part: flagged partial at the timeout, with what did arrive', { skip: SKIP_NO_SHARED }, async () => {
  const all = (await loadEvents(sharedPath(...FILE))).filter((e) => e.winlog.event_id === 4104);
  const id = '94716315-ef0c-4bf7-99d6-898bc342124d';
  const parts = all.filter((e) => e.powershell?.file?.script_block_id === id && e.powershell.sequence !== 7);
  const a = new ScriptBlockAssembler(60_000);
  for (const p of parts) assert.deepEqual(a.add(p), []);
  const out = a.expire(Date.parse(parts[0]['@timestamp']) + 61_000);
  assert.equal(out.length, 1);
  assert.equal(out[0].partial, true);
  assert.equal(out[0].parts.length, 29);
});
