// Shared parts of the stream tests: the datasets as raw collector messages in event-time order, what
// `hunt` finds on the same files, the CLI as a child process, and reading a topic back.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type IHeaders } from 'kafkajs';
import { expandPaths } from '../../ingest/sources.js';
import { normalizeFiles } from '../../ingest/pipeline.js';
import { openEntries } from '../../ingest/json/archive.js';
import { splitJson } from '../../ingest/json/split.js';
import { run as hunt } from '../../cli/hunt.js';
import { REPO_ROOT } from '../support/shared.js';
import { rng } from '../support/rng.js';
import { KAFKA_BROKERS } from './servers.js';

export interface RawMessage { text: string; t: number }

/** Every dataset record that normalizes, as its original JSON text with its (repaired) event time. */
export async function datasetMessages(...dirs: string[]): Promise<RawMessage[]> {
  const files = await expandPaths(dirs);
  const times = new Map<string, number>();
  for await (const it of normalizeFiles(files)) {
    if (it.kind !== 'event') continue;
    const p = it.event.hoptrail.provenance;
    times.set(`${p.file ?? ''}|${p.entry ?? ''}|${p.offset ?? ''}`, Date.parse(it.event['@timestamp']));
  }
  const out: RawMessage[] = [];
  for (const f of files) {
    for await (const e of openEntries(f)) {
      if ('error' in e) continue;
      for await (const p of splitJson(e.chunks)) {
        const t = times.get(`${f}|${e.name ?? ''}|${p.offset ?? ''}`);
        if (t !== undefined && p.bad === undefined) out.push({ text: p.text, t });
      }
    }
  }
  return out.sort((a, b) => a.t - b.t);
}

/** Time order, shuffled within `windowMs` of event time (inside the lateness bound), seeded. */
export function shuffleWithin(msgs: RawMessage[], windowMs: number, seed: number): RawMessage[] {
  const r = rng(seed);
  const out: RawMessage[] = [];
  for (let i = 0; i < msgs.length;) {
    let j = i;
    while (j < msgs.length && msgs[j].t - msgs[i].t <= windowMs) j++;
    const block = msgs.slice(i, j);
    for (let k = block.length - 1; k > 0; k--) {
      const x = Math.floor(r() * (k + 1));
      [block[k], block[x]] = [block[x], block[k]];
    }
    out.push(...block);
    i = j;
  }
  return out;
}

/** What `hunt` writes for the same files: sessions and findings by ID. */
export async function huntResults(...dirs: string[]): Promise<{ sessions: Map<string, unknown>; findings: Map<string, unknown> }> {
  const out = await mkdtemp(join(tmpdir(), 'hoptrail-stream-hunt-'));
  const write = process.stdout.write.bind(process.stdout);
  // hunt prints a summary: kept off the test runner's stdout.
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    const code = await hunt([...dirs, '--out', out]);
    if (code !== 0) throw new Error(`hunt exited ${code}`);
  } finally {
    process.stdout.write = write;
  }
  const read = async (name: string, id: string): Promise<Map<string, unknown>> => {
    const m = new Map<string, unknown>();
    for (const line of (await readFile(join(out, name), 'utf8')).split('\n')) {
      if (!line) continue;
      const o = JSON.parse(line) as Record<string, unknown>;
      m.set(String(o[id]), o);
    }
    return m;
  };
  const res = { sessions: await read('sessions.ndjson', 'session_id'), findings: await read('findings.ndjson', 'finding_id') };
  await rm(out, { recursive: true, force: true });
  return res;
}

export function kafka(brokers: string[] = KAFKA_BROKERS): Kafka {
  return new Kafka({ clientId: 'hoptrail-stream-it', brokers, logLevel: logLevel.NOTHING });
}

export function uniqueName(what: string): string {
  return `hoptrail-it-${what}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

export interface ReadRecord { key: string; value: string | null; headers: Record<string, string>; partition: number; offset: string }

function headerText(h: IHeaders | undefined): Record<string, string> {
  const o: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) if (v !== undefined) o[k] = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  return o;
}

/** Reads a topic from the beginning into `into` until stop() (a group of its own). */
export async function tail(k: Kafka, topic: string, into: ReadRecord[]): Promise<() => Promise<void>> {
  const c = k.consumer({ groupId: uniqueName('reader'), sessionTimeout: 10_000 });
  await c.connect();
  // A failed start leaves no connected consumer behind (it would keep the test process alive).
  await c.subscribe({ topic, fromBeginning: true }).catch(async (e: unknown) => { await c.disconnect(); throw e; });
  await c.run({
    eachMessage: async ({ partition, message }) => {
      into.push({ key: message.key?.toString('utf8') ?? '', value: message.value === null ? null : message.value.toString('utf8'), headers: headerText(message.headers), partition, offset: message.offset });
    },
  });
  return () => c.disconnect();
}

/** The latest value per key (null: retracted), as a consumer of the compacted alerts topic sees it. */
export function latest(records: readonly ReadRecord[]): { sessions: Map<string, unknown>; findings: Map<string, unknown> } {
  const sessions = new Map<string, unknown>(), findings = new Map<string, unknown>();
  for (const r of records) {
    const m = r.headers['hoptrail.kind'] === 'session' ? sessions : findings;
    if (r.value === null) m.delete(r.key);
    else m.set(r.key, JSON.parse(r.value));
  }
  return { sessions, findings };
}

const LOCATION = new Set(['file', 'entry', 'line', 'index', 'offset', 'chunk', 'kafka']);

/** Evidence references without where the record was read: a file line for hunt, a Kafka offset for stream. */
export function withoutLocation(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutLocation);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => !LOCATION.has(k)).map(([k, x]) => [k, withoutLocation(x)]));
}

export interface Child { proc: ChildProcess; stderr: () => string; exited: Promise<number | null> }

/** `hoptrail stream` as a child process (built CLI), its JSON logs kept for diagnosis. */
export function startStream(args: string[], brokers: string[] = KAFKA_BROKERS): Child {
  const proc = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'hoptrail.js'), 'stream', '--brokers', brokers.join(','), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => { err += d.toString('utf8'); if (err.length > 1 << 20) err = err.slice(-(1 << 19)); });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, stderr: () => err, exited };
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs: number, diag: () => string = () => ''): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${diag().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
