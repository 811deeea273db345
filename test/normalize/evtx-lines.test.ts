// EvtxLines writes a plain record's normalized event as exactly the bytes of JSON.stringify of the event
// the object path gives (replay()'s record through Normalizer.normalize), for every record of the corpus,
// its damaged files and its large logs that it takes; the records it leaves are the object path's.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { ChunkContext, flatInstance, parseFragment } from '../../ingest/evtx/binxml.js';
import { CHUNK_SIZE, isChunk, parseChunk, type RecordSink } from '../../ingest/evtx/chunk.js';
import { FILE_HEADER_SIZE } from '../../ingest/evtx/reader.js';
import { loadVals, planOf, replay } from '../../ingest/evtx/compile.js';
import { jsonBytes, jsonPos, jsonRewind } from '../../ingest/evtx/jsonout.js';
import { planEvtx, readEvtxRange } from '../../ingest/evtx/range.js';
import { filetime } from '../../ingest/evtx/values.js';
import { EvtxLines } from '../../ingest/normalize/evtx-lines.js';
import { extractsNothing } from '../../ingest/normalize/extract.js';
import { ClockKnowledge, Normalizer } from '../../ingest/normalize/index.js';
import { detectorsUse } from '../../detectors/uses.js';
import { NormalizedEvent, type Provenance } from '../../schemas/event.js';
import { SKIP_NO_SHARED, sharedPath } from '../support/shared.js';
import { mutate } from '../support/mutate.js';
import { BinXmlWriter, filetimeV, hex64v, str, u16v, u32v, u64v, u8v } from '../support/binxml-writer.js';

/** Knows an FQDN for every short name: host.name then differs from the computer name. */
class Everywhere extends ClockKnowledge {
  override fqdnOf(short: string): string {
    return `${short}.fqdn.test`;
  }
}

function evtxFiles(): string[] {
  const out: string[] = [];
  for (const dir of ['corpus', 'corpus/robustness', 'corpus/large']) {
    for (const f of readdirSync(sharedPath(dir)).sort()) if (f.endsWith('.evtx')) out.push(sharedPath(dir, f));
  }
  return out;
}

interface Tally { taken: number; left: number; shortNames: number }

/** A sink that compares each record the writer takes with the object path's event. */
function checker(file: string, norm: Normalizer, t: Tally): RecordSink {
  const lines = new EvtxLines(norm, file);
  return {
    line(plan, ctx, count, writtenLo, writtenHi, recovered, chunk, offset) {
      jsonRewind(0);
      const start = lines.write(plan, ctx, count, writtenLo, writtenHi, recovered, chunk, offset);
      if (start < 0) {
        t.left++;
        return false;
      }
      const got = jsonBytes(start, jsonPos()).toString('utf8');
      const rec = replay(plan, ctx, count, 0, filetime(writtenLo, writtenHi));
      assert.ok(rec !== null && typeof rec === 'object', `${file} @${offset}: taken, but replay() gives no record`);
      const prov: Provenance = { format: 'evtx', file, chunk, offset };
      if (recovered) prov.recovered = true;
      const r = norm.normalize(rec, prov);
      assert.ok(r.ok, `${file} @${offset}: taken, but the object path rejects it: ${r.ok ? '' : r.reason}`);
      assert.equal(got, JSON.stringify(r.event), `${file} @${offset}`);
      assert.equal(detectorsUse(r.event), false, `${file} @${offset}: a detector uses it`);
      if (!rec.computer.includes('.')) t.shortNames++;
      t.taken++;
      return true;
    },
    item() {},
  };
}

/** Walks a file with the checker. */
function compare(file: string, norm: Normalizer, t: Tally): void {
  const { blocks } = planEvtx(file);
  for (const items of readEvtxRange(file, 0, blocks, { sink: checker(file, norm, t) })) void items;
}

test('plain records: the written line is the object path\'s JSON, byte for byte', { skip: SKIP_NO_SHARED }, () => {
  const t: Tally = { taken: 0, left: 0, shortNames: 0 };
  const norm = new Normalizer({ ingested: '2026-12-07T00:00:00.000Z' });
  for (const f of evtxFiles()) compare(f, norm, t);
  // Most of the large System log and the application logs are plain; Security and PowerShell are not.
  assert.ok(t.taken > 60_000, `taken ${t.taken}`);
  assert.ok(t.left > 20_000, `left ${t.left}`);
});

test('plain records with host names learned from other evidence (host.name an FQDN)', { skip: SKIP_NO_SHARED }, () => {
  const t: Tally = { taken: 0, left: 0, shortNames: 0 };
  const norm = new Normalizer({ knowledge: new Everywhere() });
  for (const f of evtxFiles().filter((f) => !f.includes('/large/'))) compare(f, norm, t);
  assert.ok(t.shortNames > 1000, `short names ${t.shortNames}`);
});

type Value = { type: number; data: Buffer };

/**
 * A record of a usual template (System, then named Data), with these values: the writer's line, or
 * undefined when it leaves the record, and the object path's JSON.
 */
function both(provider: string, id: number, channel: string, computer: string, keywords: bigint, data: Value[]): { line: string | undefined; object: string | undefined } {
  const w = new BinXmlWriter();
  w.fragmentHeader().templateInstance((t) => {
    t.system([['Provider', 0x01], ['EventID', 0x06], ['Level', 0x04], ['Keywords', 0x15], ['TimeCreated', 0x11], ['EventRecordID', 0x0a], ['Channel', 0x01], ['Computer', 0x01]])
      .open('EventData', { dep: true }).closeStart();
    data.forEach((d, i) => t.open('Data', { attrs: true, dep: true }).attr('Name').text(`V${i}`).closeStart().sub(8 + i, d.type, true).end());
    t.end().end();
  }, [str(provider), u16v(id), u8v(2), hex64v(keywords), filetimeV(132430991662995631n), u64v(42n), str(channel), str(computer), ...data]);
  w.eof();
  const ctx = new ChunkContext(w.buf, w.buf.length);
  let tpl = flatInstance(ctx, 512, w.pos);
  if (tpl === null) {
    const nodes = parseFragment(ctx, 512, w.pos, false);
    tpl = nodes[0].t === 3 ? nodes[0].tpl : null;
    if (nodes[0].t === 3) loadVals(ctx, nodes[0].vals, 0);
  }
  assert.ok(tpl !== null);
  const plan = planOf(tpl);
  assert.ok(plan !== null, 'the usual template compiles');
  const count = ctx.nvals;
  const norm = new Normalizer({ ingested: '2026-12-07T00:00:00.000Z' });
  jsonRewind(0);
  const start = new EvtxLines(norm, 'x.evtx').write(plan, ctx, count, 0x12345678, 0x01d68e2d, false, 3, 4096);
  const line = start < 0 ? undefined : jsonBytes(start, jsonPos()).toString('utf8');
  const rec = replay(plan, ctx, count, 1, filetime(0x12345678, 0x01d68e2d));
  assert.ok(rec !== null && typeof rec === 'object');
  const r = norm.normalize(rec, { format: 'evtx', file: 'x.evtx', chunk: 3, offset: 4096 });
  return { line, object: r.ok ? JSON.stringify(r.event) : undefined };
}

test('values clean() drops or resolves, audit keywords, a computer name to trim: as the object path', () => {
  const texts = ['-', '', '   ', '\t\r\n', '%%1793', '%%1833', '%%1833 %%1840', '%%9999', ' x', '-x', '--', '%x', 'ok', 'é\u2028"\\'];
  const data: Value[] = [...texts.map(str), u32v(0), { type: 0x02, data: Buffer.from('-') }, { type: 0x02, data: Buffer.from(' a') }, { type: 0x0e, data: Buffer.alloc(0) }];
  for (const kw of [0x8020000000000000n, 0x8010000000000000n, 0x80000000000000n]) {
    const { line, object } = both('Some-Provider', 36888, 'System', '  CITADEL-DC01.c137.local ', kw, data);
    assert.ok(line !== undefined, 'taken');
    assert.equal(line, object);
  }
  const parsed = JSON.parse(both('P', 1, 'Application', 'h', 0x8020000000000000n, data).line!);
  assert.deepEqual(Object.keys(parsed.winlog.event_data), ['V5', 'V6', 'V8', 'V9', 'V10', 'V11', 'V12', 'V13', 'V14', 'V16']);
  assert.equal(parsed.event.outcome, 'success');
});

test('records the writer leaves to the object path', () => {
  // Extracted channels and IDs; a time out of range; a data name JS orders first; no provider or computer.
  assert.equal(both('P', 4624, 'Security', 'h', 0n, [str('a')]).line, undefined);
  assert.equal(both('P', 7045, 'System', 'h', 0n, [str('a')]).line, undefined);
  assert.equal(both('P', 1, 'Microsoft-Windows-Sysmon/Operational', 'h', 0n, [str('a')]).line, undefined);
  assert.equal(both('', 1, 'Application', 'h', 0n, [str('a')]).line, undefined);
  assert.equal(both('P', 1, 'Application', '  ', 0n, [str('a')]).line, undefined);
  assert.ok(both('P', 7036, 'Application', 'h', 0n, [str('a')]).line !== undefined, 'an ID extracted elsewhere is plain here');
});

const FUZZ_CASES = Number(process.env.HOPTRAIL_LINES_FUZZ_CASES ?? 150);

test(`${FUZZ_CASES} damaged files: whatever the writer takes is the object path's JSON`, { skip: SKIP_NO_SHARED }, () => {
  const t: Tally = { taken: 0, left: 0, shortNames: 0 };
  const norm = new Normalizer({ ingested: '2026-12-07T00:00:00.000Z' });
  const files = evtxFiles().filter((f) => statSync(f).size <= 2 << 20);
  for (let c = 0; c < FUZZ_CASES; c++) {
    const file = files[c % files.length];
    const { bytes } = mutate(readFileSync(file), 20261207 + c);
    const sink = checker(`${file}#${c}`, norm, t);
    for (let off = FILE_HEADER_SIZE; off < bytes.length; off += CHUNK_SIZE) {
      const block = bytes.subarray(off, off + CHUNK_SIZE);
      if (isChunk(block)) parseChunk(block, file, (off - FILE_HEADER_SIZE) / CHUNK_SIZE, off, { sink });
    }
  }
  assert.ok(t.taken > 1000 && t.left > 1000, `taken ${t.taken}, left ${t.left}`);
});

test('no plain record is one a detector keys on by channel and ID', () => {
  // The channels the session engine takes, and the IDs findings observe whatever the fields (log clears,
  // the WinRM service's start type, firewall rules): none of them may be written as a plain line.
  const detected = ['Security', 'Microsoft-Windows-Sysmon/Operational', 'Microsoft-Windows-WinRM/Operational', 'Windows PowerShell',
    'Microsoft-Windows-PowerShell/Operational', 'Microsoft-Windows-Windows Firewall With Advanced Security/Firewall'];
  for (const channel of detected) for (let id = 0; id <= 65535; id++) assert.equal(extractsNothing(channel, id), false, `${channel} ${id}`);
  for (const id of [104, 7040]) assert.equal(extractsNothing('System', id), false, `System ${id}`);
  assert.equal(extractsNothing('System', 36888), true);
  assert.equal(extractsNothing('Application', 1000), true);
});

test('a normalizer checking with the zod schema writes no line: the schema runs on objects', () => {
  assert.equal(new Normalizer({ validate: NormalizedEvent }).fastChecked, false);
  assert.equal(new Normalizer({ validate: 'fast' }).fastChecked, true);
});
