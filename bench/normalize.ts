// bench/normalize: events/s of the normalizer on parsed records (the corpus reference dumps, in memory),
// with each validation mode, then end to end from files (JSON datasets; corpus EVTX through the parser).
// Run: npm run build && node dist/bench/normalize.js [seconds-per-case]
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { EvtxRecord } from '../ingest/evtx/record.js';
import { Normalizer } from '../ingest/normalize/index.js';
import { NormalizedEvent } from '../schemas/event.js';
import { normalizeFiles } from '../ingest/pipeline.js';
import { expandPaths } from '../ingest/sources.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHARED = process.env.HOPTRAIL_SHARED ?? join(ROOT, '..', 'shared');
const SECONDS = Number(process.argv[2] ?? 2);

function loadRecords(): EvtxRecord[] {
  const dir = join(SHARED, 'corpus');
  const out: EvtxRecord[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.reference.ndjson.gz')).sort()) {
    for (const l of gunzipSync(readFileSync(join(dir, f))).toString('utf8').split('\n')) if (l) out.push(JSON.parse(l) as EvtxRecord);
  }
  return out;
}

const VALIDATIONS = { fast: 'fast', none: 'none', zod: NormalizedEvent } as const;

function fromRecords(records: EvtxRecord[], v: keyof typeof VALIDATIONS): number {
  const n = new Normalizer({ validate: VALIDATIONS[v] });
  const prov = { format: 'evtx' as const, file: 'bench.evtx', chunk: 0, offset: 0 };
  let count = 0, sink = 0;
  const end = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  while (performance.now() < end) {
    for (const r of records) {
      const res = n.normalize(r, prov);
      if (res.ok) sink += res.event.winlog.event_id;
      count++;
    }
  }
  const secs = (performance.now() - t0) / 1000;
  if (sink === 0) throw new Error('nothing normalized');
  return count / secs;
}

async function endToEnd(paths: string[]): Promise<{ events: number; secs: number; bytes: number }> {
  const files = await expandPaths(paths);
  const t0 = performance.now();
  let events = 0, bytes = 0;
  for await (const it of normalizeFiles(files)) {
    if (it.kind === 'event') { events++; bytes += JSON.stringify(it.event).length + 1; }
  }
  return { events, secs: (performance.now() - t0) / 1000, bytes };
}

const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');

const records = loadRecords();
console.log(`normalize, parsed records: ${records.length} corpus reference records in memory, ${SECONDS} s per case, node ${process.version}`);
fromRecords(records, 'fast'); // warm up
for (const v of ['fast', 'none', 'zod'] as const) console.log(`  validate=${v.padEnd(5)} ${fmt(fromRecords(records, v)).padStart(10)} events/s`);

const ds = await endToEnd([join(SHARED, 'datasets')]);
console.log(`end to end, JSON datasets (zip/tar.gz, both passes, JSON.stringify of each event): ${ds.events} events in ${ds.secs.toFixed(2)} s = ${fmt(ds.events / ds.secs)} events/s`);
const evtx = readdirSync(join(SHARED, 'corpus')).filter((n) => n.endsWith('.evtx')).map((n) => join(SHARED, 'corpus', n));
const ev = await endToEnd(evtx);
console.log(`end to end, corpus EVTX (parser + normalizer): ${ev.events} events in ${ev.secs.toFixed(2)} s = ${fmt(ev.events / ev.secs)} events/s`);
const large = join(SHARED, 'corpus', 'large');
const bigs = readdirSync(large).filter((n) => n.endsWith('.evtx')).map((n) => join(large, n));
if (bigs.length > 0) {
  const lg = await endToEnd(bigs);
  console.log(`end to end, corpus/large EVTX (parser + normalizer): ${lg.events} events in ${lg.secs.toFixed(2)} s = ${fmt(lg.events / lg.secs)} events/s`);
}
