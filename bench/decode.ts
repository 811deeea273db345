// bench/decode: messages/s of the stream's decoding on one thread, no Kafka: the dataset records as the
// collector messages bench/stream sends (their original JSON text), decoded in batches through the same
// functions a decoding worker runs (parseChunk, then normalizeChunk with what the batches so far taught).
// Run: npm run build && node dist/bench/decode.js [seconds] [all|sd2] [ship: used|all|json]
// `seconds` -N: N passes, no clock (deterministic for callgrind: valgrind --tool=callgrind node --single-threaded ...).
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { ClockKnowledge } from '../ingest/normalize/clock.js';
import { Normalizer } from '../ingest/normalize/index.js';
import { normalizeChunk, parseChunk, type Ship } from '../ingest/kafka/batch.js';
import { datasetMessages } from '../test/integration/stream-support.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHARED = process.env.HOPTRAIL_SHARED ?? join(ROOT, '..', 'shared');
const SECONDS = Number(process.argv[2] ?? 5);
const WHICH = process.argv[3] ?? 'all';
const SHIP: Ship = process.argv[4] === 'all' ? { events: 'all', json: false } : process.argv[4] === 'json' ? { events: 'used', json: true } : { events: 'used', json: false };
const BATCH = 500;

const dirs = WHICH === 'sd2' ? ['sd2_190518_psremoting'] : ['sd2_190518_psremoting', 'covenant_psremoting_command', 'empire_invoke_psremoting_2019'];
// HOPTRAIL_BENCH_CACHE=FILE: the messages read from (or first written to) FILE, one per line, so a
// callgrind run counts the decoding only, not reading the datasets.
const CACHE = process.env.HOPTRAIL_BENCH_CACHE;
let texts: string[];
if (CACHE !== undefined && existsSync(CACHE)) texts = readFileSync(CACHE, 'utf8').split('\n').filter((l) => l !== '');
else {
  texts = (await datasetMessages(...dirs.map((d) => join(SHARED, 'datasets', d)))).map((m) => m.text.replace(/\r?\n/g, ' '));
  if (CACHE !== undefined) writeFileSync(CACHE, texts.join('\n') + '\n');
}
const values = texts.map((t) => Buffer.from(t, 'utf8'));
const bytes = values.reduce((n, v) => n + v.length, 0);
const offsets = values.map((_v, i) => String(i));

function pass(): number {
  const knowledge = new ClockKnowledge();
  const norm = new Normalizer({ knowledge, ingested: '2026-01-01T00:00:00.000Z' });
  let used = 0;
  for (let i = 0; i < values.length; i += BATCH) {
    const { parsed, learned } = parseChunk(values.slice(i, i + BATCH), 'bench', 1 << 20, SHIP);
    knowledge.merge(learned.delta);
    const b = normalizeChunk(norm, parsed, 'bench', 0, offsets.slice(i, i + BATCH), SHIP);
    used += b.events.length + b.json.length;
  }
  return used;
}

console.log(`decode: ${values.length} messages (${WHICH}), ${(bytes / values.length).toFixed(0)} B mean, batches of ${BATCH}, ship ${JSON.stringify(SHIP)}, node ${process.version}`);
if (SECONDS <= 0) {
  let shipped = 0;
  for (let i = 0; i < Math.max(1, -SECONDS); i++) shipped += pass();
  console.log(`${Math.max(1, -SECONDS)} passes: ${shipped} shipped`);
} else {
  for (let i = 0; i < 3; i++) pass(); // warm up
  let n = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const end = t0 + SECONDS * 1000;
  while (performance.now() < end) { pass(); n += values.length; }
  const secs = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  // Per CPU second of the process (all its threads: GC helpers too): steadier than wall time on a busy machine.
  console.log(`${Math.round(n / secs).toLocaleString('en-US')} messages/s (${(bytes * n / values.length / secs / 1e6).toFixed(1)} MB/s), ${Math.round(n / cpu).toLocaleString('en-US')} per CPU s, load ${loadavg()[0].toFixed(2)}`);
}
