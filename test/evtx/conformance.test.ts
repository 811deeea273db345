// Every record of the 24 corpus files equals its independent reference dump: same count, same order,
// every field. The one documented exception: N1, where the reference parsers disagree on empty versus
// whitespace-only values (../shared/corpus/REFERENCE_CHECK.tsv).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { readEvtx, type EvtxRecord } from '../../ingest/evtx/index.js';
import { corpusFiles, readTsv, referenceRecords } from '../support/corpus.js';
import { HAVE_SHARED, SKIP_NO_SHARED, sharedPath } from '../support/shared.js';

async function parse(path: string): Promise<{ records: EvtxRecord[]; recovered: EvtxRecord[]; errors: string[] }> {
  const records: EvtxRecord[] = [];
  const recovered: EvtxRecord[] = [];
  const errors: string[] = [];
  for await (const it of readEvtx(path)) {
    if (it.kind === 'record') (it.recovered ? recovered : records).push(it.record);
    else if (it.severity !== 'warning') errors.push(it.message);
  }
  return { records, recovered, errors };
}

/** Fields of N1 where the reference parsers disagree on "" versus whitespace: "record_id\tfield". */
function whitespaceExceptions(): Set<string> {
  const out = new Set<string>();
  for (const row of readTsv(sharedPath('corpus', 'REFERENCE_CHECK.tsv'))) out.add(`${row.name}\t${row.record_id}\t${row.field}`);
  return out;
}

function equalWithException(file: string, ref: EvtxRecord, got: EvtxRecord, exceptions: Set<string>): boolean {
  if (isDeepStrictEqual(ref, got)) return true;
  const a = { ...ref, event_data: { ...ref.event_data } };
  const b = { ...got, event_data: { ...got.event_data } };
  for (const k of Object.keys(a.event_data)) {
    const x = a.event_data[k];
    const y = b.event_data[k];
    if (x !== y && typeof y === 'string' && x.trim() === '' && y.trim() === '' && exceptions.has(`${file}\t${ref.record_id}\tevent_data.${k}`)) {
      b.event_data[k] = x;
    }
  }
  return isDeepStrictEqual(a, b);
}

test('every corpus record equals its reference dump', { skip: SKIP_NO_SHARED }, async (t) => {
  const files = corpusFiles();
  assert.equal(files.length, 24, 'the corpus holds 24 files');
  const exceptions = whitespaceExceptions();
  let total = 0;
  let matched = 0;
  for (const file of files) {
    const ref = referenceRecords(file);
    const { records, errors } = await parse(sharedPath('corpus', file));
    assert.deepEqual(errors, [], `${file}: no damaged record`);
    assert.equal(records.length, ref.length, `${file}: record count`);
    let ok = 0;
    for (let i = 0; i < ref.length; i++) {
      if (equalWithException(file, ref[i], records[i], exceptions)) ok++;
      else assert.deepEqual(records[i], ref[i], `${file}: record #${i} (record_id ${ref[i].record_id})`);
    }
    total += ref.length;
    matched += ok;
  }
  t.diagnostic(`conformance: ${matched}/${total} records equal to the reference in ${files.length} files`);
  console.log(`conformance: ${matched}/${total} records equal to the reference in ${files.length} files`);
  assert.equal(matched, total);
});

test('records recovered from slack space are marked and well formed', { skip: SKIP_NO_SHARED }, async () => {
  // This System log holds 179 whole records after the live ones in its chunks' slack.
  const { records, recovered } = await parse(sharedPath('corpus', 'large', 'StolenSzechuan_DC_System.evtx'));
  assert.equal(records.length, 60189);
  assert.equal(recovered.length, 179);
  for (const r of recovered) {
    assert.equal(r.channel, 'System');
    assert.match(r.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
    assert.ok(r.record_id > 0 && r.provider !== '');
  }
});

test('event remnants without a record header are carved from slack and marked recovered', { skip: SKIP_NO_SHARED }, async () => {
  // X1 (forwarded events) holds deleted WinRM remnants in its chunk slack, as BinXML with inline names.
  const { records, recovered } = await parse(sharedPath('corpus', 'X1_ID1149-RDP_success_logins_to_multiple_hosts.evtx'));
  assert.equal(records.length, 11);
  const winrm = recovered.filter((r) => r.channel === 'Microsoft-Windows-WinRM/Operational');
  assert.ok(winrm.length >= 5, `WinRM remnants: ${winrm.length}`);
  for (const r of recovered) {
    assert.equal(r.record_number, 0, 'the record header is lost');
    assert.equal(r.written_time, undefined);
    assert.match(r.timestamp, /^2021-12-16T\d\d:\d\d:\d\d\.\d{7}Z$/);
    assert.ok(r.record_id > 0 && r.computer !== '');
  }
});

test('damaged and unusual files give at least their expected good records', { skip: SKIP_NO_SHARED }, async (t) => {
  const rows = readTsv(sharedPath('corpus', 'robustness', 'EXPECTED.tsv'));
  assert.equal(rows.length, 20);
  for (const row of rows) {
    const { records, errors } = await parse(sharedPath('corpus', 'robustness', row.file));
    assert.ok(records.length >= Number(row.min_good_records), `${row.file}: ${records.length} good records, expected at least ${row.min_good_records}`);
    t.diagnostic(`${row.file}: ${records.length} good (min ${row.min_good_records}), ${errors.length} errors`);
    if (row.file === 'sample_with_a_bad_chunk_magic.evtx') assert.ok(errors.some((e) => /no chunk signature/.test(e)), 'the bad chunk is reported');
    if (row.file === 'sample-with-zero-data-size-event.evtx') assert.ok(errors.some((e) => /record size 0 /.test(e)), 'the zero-size record is reported');
  }
});

test('the large logs give their full record counts', { skip: SKIP_NO_SHARED }, async () => {
  for (const row of readTsv(sharedPath('corpus', 'large', 'MANIFEST.tsv'))) {
    const { records, errors } = await parse(sharedPath('corpus', 'large', row.file));
    assert.deepEqual(errors, [], `${row.file}: no damaged record`);
    assert.equal(records.length, Number(row.records_libevtx), row.file);
  }
});

test('a stream gives the same records as the file', { skip: SKIP_NO_SHARED }, async () => {
  const { createReadStream } = await import('node:fs');
  const path = sharedPath('corpus', 'L3_smb-password-guessing-security.evtx');
  const fromFile = (await parse(path)).records;
  const fromStream: EvtxRecord[] = [];
  // Small reads: block boundaries must not matter.
  for await (const it of readEvtx(createReadStream(path, { highWaterMark: 5000 }), { name: 'stdin' })) if (it.kind === 'record' && !it.recovered) fromStream.push(it.record);
  assert.equal(fromStream.length, 3561);
  assert.deepEqual(fromStream, fromFile);
});

test('worker threads give the same items in the same order', { skip: SKIP_NO_SHARED }, async () => {
  const path = sharedPath('corpus', 'robustness', 'sample_with_a_bad_chunk_magic.evtx');
  const one = [];
  for await (const it of readEvtx(path)) one.push(it);
  const two = [];
  for await (const it of readEvtx(path, { threads: 2 })) two.push(it);
  assert.ok(one.length > 300);
  assert.deepEqual(two, one);
});

test('this thread parsing beside a worker (parseOnMain) keeps the order of items and JSON lines', { skip: SKIP_NO_SHARED }, async () => {
  const { readEvtxChunks, WorkerPool } = await import('../../ingest/evtx/index.js');
  const pool = new WorkerPool(1);
  try {
    for (const path of [sharedPath('corpus', 'robustness', 'sample_with_a_bad_chunk_magic.evtx'), sharedPath('corpus', 'large', 'StolenSzechuan_DC_Security.evtx')]) {
      const one = [];
      for await (const it of readEvtx(path)) one.push(it);
      const both = [];
      for await (const it of readEvtx(path, { pool, parseOnMain: true })) both.push(it);
      assert.deepEqual(both, one, path);
      const text: Buffer[] = [];
      const lines: Buffer[] = [];
      for await (const b of readEvtxChunks(path, { serialize: 'jsonl', bytes: true })) if (b.bytes) text.push(b.bytes);
      for await (const b of readEvtxChunks(path, { pool, parseOnMain: true, serialize: 'jsonl', bytes: true })) if (b.bytes) lines.push(b.bytes);
      assert.ok(Buffer.concat(lines).equals(Buffer.concat(text)), path);
    }
  } finally {
    await pool.close();
  }
});

test('memory of written JSON lines given back (releaseBytes) is reused without changing any line', { skip: SKIP_NO_SHARED }, async () => {
  const { readEvtxChunks, releaseBytes, WorkerPool } = await import('../../ingest/evtx/index.js');
  const path = sharedPath('corpus', 'large', 'StolenSzechuan_DC_Security.evtx');
  const want: Buffer[] = [];
  for await (const b of readEvtxChunks(path, { serialize: 'jsonl', bytes: true })) if (b.bytes) want.push(Buffer.from(b.bytes));
  const pool = new WorkerPool(1);
  try {
    for (const opts of [{}, { pool, parseOnMain: true }, { pool }]) {
      const got: Buffer[] = [];
      for await (const b of readEvtxChunks(path, { ...opts, serialize: 'jsonl', bytes: true })) {
        if (!b.bytes) continue;
        // As dump does: written out (here, copied), then given back.
        got.push(Buffer.from(b.bytes));
        releaseBytes(b.bytes);
      }
      assert.ok(Buffer.concat(got).equals(Buffer.concat(want)), JSON.stringify(Object.keys(opts)));
    }
  } finally {
    await pool.close();
  }
});

test('parseOnMain does not wait for a worker that never answers: this thread parses its chunks', { skip: SKIP_NO_SHARED }, async () => {
  const { readEvtxChunks, WorkerPool } = await import('../../ingest/evtx/index.js');
  const pool = new WorkerPool(1);
  try {
    // A stuck worker: ready, takes chunks, never answers.
    const stuck = pool as unknown as { ready: number; inFlight: number; parse: () => Promise<never> };
    stuck.ready = 1;
    stuck.parse = () => {
      stuck.inFlight++;
      return new Promise<never>(() => undefined);
    };
    const path = sharedPath('corpus', 'large', 'StolenSzechuan_DC_Security.evtx');
    const want: Buffer[] = [];
    for await (const b of readEvtxChunks(path, { serialize: 'jsonl', bytes: true })) if (b.bytes) want.push(b.bytes);
    const got: Buffer[] = [];
    for await (const b of readEvtxChunks(path, { pool, parseOnMain: true, serialize: 'jsonl', bytes: true })) if (b.bytes) got.push(b.bytes);
    assert.ok(stuck.inFlight > 0, 'the worker was given chunks');
    assert.ok(Buffer.concat(got).equals(Buffer.concat(want)));
  } finally {
    await pool.close();
  }
});

test('templates shared across chunks: any chunk order, and a fresh thread, give the same items', { skip: SKIP_NO_SHARED }, async () => {
  const { parseChunk, CHUNK_SIZE, FILE_HEADER_SIZE } = await import('../../ingest/evtx/index.js');
  const { readFileSync } = await import('node:fs');
  for (const path of [sharedPath('corpus', 'large', 'StolenSzechuan_DC_Security.evtx'), sharedPath('corpus', 'robustness', 'security_bad_string_cache.evtx'), sharedPath('corpus', 'robustness', 'MSExchange_Management_wec.evtx')]) {
    const file = readFileSync(path);
    const chunks: Buffer[] = [];
    for (let o = FILE_HEADER_SIZE; o < file.length; o += CHUNK_SIZE) chunks.push(file.subarray(o, o + CHUNK_SIZE));
    const parse = (i: number) => (chunks[i].subarray(0, 8).toString('latin1') === 'ElfChnk\0' ? parseChunk(chunks[i], path, i, FILE_HEADER_SIZE + i * CHUNK_SIZE) : []);
    const forward = chunks.map((_, i) => parse(i));
    const backward = chunks.map((_, i) => parse(chunks.length - 1 - i)).reverse();
    assert.deepEqual(backward, forward, path);
    // A worker starts with no shared template: the same items as this thread with its warm cache.
    const fresh = [];
    for await (const it of readEvtx(path, { threads: 2 })) fresh.push(it);
    const here = [];
    for await (const it of readEvtx(path)) here.push(it);
    assert.deepEqual(fresh, here, path);
  }
});

if (!HAVE_SHARED) console.log(`conformance: skipped, ${SKIP_NO_SHARED}`);

test('the compiled fast path and the general tree walk give identical records', { skip: SKIP_NO_SHARED }, async () => {
  const paths = [
    ...corpusFiles().map((f) => sharedPath('corpus', f)),
    sharedPath('corpus', 'robustness', 'E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx'),
    sharedPath('corpus', 'robustness', 'Security_with_size_t.evtx'),
    sharedPath('corpus', 'robustness', 'sample-with-irregular-bool-values.evtx'),
  ];
  let n = 0;
  for (const path of paths) {
    const fast = [];
    for await (const it of readEvtx(path)) fast.push(it);
    const slow = [];
    for await (const it of readEvtx(path, { generic: true })) slow.push(it);
    assert.deepEqual(fast, slow, path);
    n += fast.length;
  }
  assert.ok(n > 10000);
});

test('JSON lines written straight from compiled templates parse to the same records', { skip: SKIP_NO_SHARED }, async () => {
  const { readEvtxChunks } = await import('../../ingest/evtx/index.js');
  const paths = [...corpusFiles().map((f) => sharedPath('corpus', f)), sharedPath('corpus', 'large', 'StolenSzechuan_DC_Security.evtx')];
  for (const path of paths) {
    const objects = [];
    for await (const it of readEvtx(path)) if (it.kind === 'record') objects.push(it.recovered ? { ...it.record, recovered: true } : it.record);
    let text = '';
    for await (const batch of readEvtxChunks(path, { serialize: 'jsonl' })) text += batch.text ?? '';
    const raw = text.split('\n').filter((l) => l !== '');
    const lines = raw.map((l) => JSON.parse(l));
    assert.deepEqual(lines, objects, path);
    // Escaped exactly as JSON.stringify would (the bytes are written by our own writer).
    for (const l of raw) if (l !== JSON.stringify(JSON.parse(l))) assert.equal(l, JSON.stringify(JSON.parse(l)), path);
    // As bytes, with worker threads, the same lines.
    const chunks: Buffer[] = [];
    for await (const batch of readEvtxChunks(path, { serialize: 'jsonl', bytes: true, threads: 2 })) if (batch.bytes) chunks.push(batch.bytes);
    assert.equal(Buffer.concat(chunks).toString('utf8'), text, path);
  }
});

test('JSON lines of the damaged and unusual files parse to the same records as the object path', { skip: SKIP_NO_SHARED }, async () => {
  const { readEvtxChunks } = await import('../../ingest/evtx/index.js');
  const paths = [...readTsv(sharedPath('corpus', 'robustness', 'EXPECTED.tsv')).map((r) => sharedPath('corpus', 'robustness', r.file)), sharedPath('corpus', 'large', 'StolenSzechuan_DC_System.evtx')];
  for (const path of paths) {
    const objects = [];
    const errors: string[] = [];
    for await (const it of readEvtx(path)) {
      if (it.kind === 'record') objects.push(it.recovered ? { ...it.record, recovered: true } : it.record);
      else errors.push(it.message);
    }
    let text = '';
    const jsonErrors: string[] = [];
    for await (const batch of readEvtxChunks(path, { serialize: 'jsonl' })) {
      text += batch.text ?? '';
      for (const it of batch.items) if (it.kind === 'error') jsonErrors.push(it.message);
    }
    const raw = text.split('\n').filter((l) => l !== '');
    assert.deepEqual(raw.map((l) => JSON.parse(l)), objects, path);
    for (const l of raw) if (l !== JSON.stringify(JSON.parse(l))) assert.equal(l, JSON.stringify(JSON.parse(l)), path);
    assert.deepEqual(jsonErrors, errors, path);
  }
});

test('the event-ID pre-filter keeps exactly the records a full parse would select', { skip: SKIP_NO_SHARED }, async () => {
  const { readEvtxChunks } = await import('../../ingest/evtx/index.js');
  const path = sharedPath('corpus', 'large', 'StolenSzechuan_DC_Security.evtx');
  const keep = new Set([4624, 4672, 4769]);
  const all = (await parse(path)).records.filter((r) => keep.has(r.event_id));
  const filtered = [];
  for await (const it of readEvtx(path, { eventIds: keep, recover: false })) if (it.kind === 'record') filtered.push(it.record);
  assert.ok(all.length > 1000);
  assert.deepEqual(filtered, all);
  let text = '';
  for await (const b of readEvtxChunks(path, { eventIds: keep, recover: false, serialize: 'jsonl' })) text += b.text ?? '';
  assert.deepEqual(text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l)), all);
});
