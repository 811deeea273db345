// `hoptrail dump`: EVTX records (of files, or of the members of archives named) as JSON lines (the
// reference dumps' field names) or XML, on stdout; problems as one-line JSON on stderr.

import { open, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
// The parser's modules one by one, not its index: the worker pool is loaded only when workers start.
import { readEvtxChunks, type EvtxReadItem } from '../ingest/evtx/reader.js';
import { releaseBytes } from '../ingest/evtx/jsonout.js';
import type { WorkerPool } from '../ingest/evtx/pool.js';
import { parseArgs, UsageError } from './args.js';
import { StdoutWriter } from './stdout.js';
import { fileKind, signature } from '../ingest/kind.js';
import type { Input } from './inputs.js';

const HELP = `usage: hoptrail dump <files|dirs|archives|-...> [--format jsonl|xml] [--threads N] [--event-id N,...] [--no-recover]

Parses EVTX files (directories are searched recursively for *.evtx and logs renamed out of it; - reads
standard input; a .zip, .tar, .tar.gz or .tgz named here: its logs, *.evtx, *.evtx.gz or known by their
signature, streamed, named archive!member; a gzipped log named here: the log it holds; archives and logs
are known by their signature whatever their name) and prints one record per line.
  --format jsonl   one JSON object per record, with the field names of the reference dumps (default)
  --format xml     the record rendered as XML
  --threads N      parse chunks on N threads: this one and N - 1 workers (order is kept); inputs under
                   32 MB in all are parsed on this thread alone, which is faster for them
  --event-id LIST  keep only these event IDs (comma-separated)
  --no-recover     do not look for deleted records in chunk slack space
Errors and warnings go to stderr as one JSON object per line.
Exit status: 0 when every input could be read (even with damaged records), 1 when one could not, 2 on a usage error.`;

export function errorLine(item: Extract<EvtxReadItem, { kind: 'error' }>): string {
  return JSON.stringify({ level: item.severity, file: item.loc.file, chunk: item.loc.chunk, offset: item.loc.offset, message: item.message });
}

export async function run(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs(argv, { format: 'string', threads: 'string', 'event-id': 'string', 'no-recover': 'boolean', help: 'boolean' });
    if (args.flags.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    if (args.positional.length === 0) throw new UsageError('no input given');
    const format = (args.flags.format as string | undefined) ?? 'jsonl';
    if (format !== 'jsonl' && format !== 'xml') throw new UsageError(`unknown --format '${format}' (jsonl or xml)`);
    const threads = args.flags.threads === undefined ? 0 : Number(args.flags.threads);
    if (!Number.isInteger(threads) || threads < 0 || threads > 64) throw new UsageError(`--threads must be a whole number from 0 to 64`);
    let eventIds: Set<number> | undefined;
    if (args.flags['event-id'] !== undefined) {
      eventIds = new Set(String(args.flags['event-id']).split(',').map((s) => {
        const n = Number(s.trim());
        if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--event-id: '${s}' is not an event ID`);
        return n;
      }));
    }
    return await dump(args.positional, { format, threads, eventIds, recover: !args.flags['no-recover'] });
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`hoptrail dump: ${e.message}\n${HELP}\n`);
      return 2;
    }
    throw e;
  }
}

interface DumpOptions {
  format: 'jsonl' | 'xml';
  threads: number;
  eventIds?: Set<number>;
  recover: boolean;
}

/**
 * Input that a worker pays for. A worker is an isolate of its own that must start and warm up (its JIT
 * compiles compete for the same cores): below this much EVTX, --threads N parses on this thread alone,
 * which is faster (measured on 2 cores: a 16 MB log 0.8x with a worker, 80 MB 1.1x).
 */
const POOL_MIN_BYTES = 32 << 20;

/** Workers for --threads N (N - 1 of them: this thread parses too), started once the input is large enough. */
class LazyPool {
  pool: WorkerPool | undefined;
  private seen = 0;

  constructor(private readonly threads: number) {}

  /** Counts `bytes` of input to come; the pool to parse it with. */
  async take(bytes: number): Promise<WorkerPool | undefined> {
    this.seen += bytes;
    if (this.pool === undefined && this.threads > 1 && this.seen >= POOL_MIN_BYTES) this.pool = new (await import('../ingest/evtx/pool.js')).WorkerPool(this.threads - 1);
    return this.pool;
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    const st = await stat(path);
    return st.isFile() ? st.size : 0;
  } catch {
    return 0;
  }
}

async function dump(inputs: string[], o: DumpOptions): Promise<number> {
  const out = new StdoutWriter(process.stdout);
  // Written lines give their memory back to the parser of this thread (workers' lines are copies).
  out.release = releaseBytes;
  const pool = new LazyPool(o.threads);
  // Files named on the command line count at once (their workers start early); files found in
  // directories count as they come.
  if (o.threads > 1) for (const i of inputs) if (i !== '-') await pool.take(await fileSize(i));
  try {
    return await dumpAll(inputs, o, out, pool);
  } finally {
    await pool.pool?.close();
  }
}

async function dumpAll(inputs: string[], o: DumpOptions, out: StdoutWriter, pool: LazyPool): Promise<number> {
  let status = 0;
  const named = new Set(inputs);
  for await (const input of namedInputs(inputs.filter((i) => i !== '-'))) {
    if (input.error) {
      process.stderr.write(JSON.stringify({ level: 'fatal', file: input.path, message: input.error }) + '\n');
      status = 1;
      continue;
    }
    const workers = o.threads > 1 && !named.has(input.path) ? await pool.take(await fileSize(input.path)) : pool.pool;
    const r = named.has(input.path) && isArchive(input.path) ? await dumpArchive(input.path, o, out, workers) : await dumpOne(input.fifo ? await openFifo(input.path) : input.path, o, out, workers, input.path);
    if (r === 'closed') return status;
    status = Math.max(status, r);
  }
  // `-` reads an EVTX stream from standard input (after the named files); its size is unknown.
  if (inputs.includes('-')) {
    const stdinPool = await pool.take(POOL_MIN_BYTES);
    const r = await dumpOne(process.stdin, o, out, stdinPool);
    if (r === 'closed') return status;
    status = Math.max(status, r);
  }
  await out.end();
  return status;
}

/**
 * The inputs as expandInputs gives them (a path that cannot be read: an error item; a directory: its
 * *.evtx files), without loading the directory walker for plain files: it brings in every JSON adapter,
 * a tenth of dump's start-up on a single log.
 */
async function* namedInputs(paths: string[]): AsyncGenerator<Input & { fifo?: true }> {
  for (const p of paths) {
    let st;
    try {
      st = await stat(p);
    } catch (e) {
      yield { path: p, error: `cannot open: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
      continue;
    }
    if (st.isFIFO()) {
      yield { path: p, fifo: true };
      continue;
    }
    if (!st.isDirectory()) {
      yield { path: p };
      continue;
    }
    const { expandInputs } = await import('./inputs.js');
    yield* expandInputs([p], ['.evtx']);
  }
}

/** How long a FIFO may wait for its writer before dump says that it waits (it waits on, as cat does). */
const FIFO_NOTICE_MS = 2000;

/**
 * A FIFO named on the command line, opened here: opening one waits for a writer, and a wait without a
 * word looks like a hang.
 */
async function openFifo(path: string): Promise<Readable> {
  const notice = setTimeout(() => process.stderr.write(JSON.stringify({ level: 'warning', file: path, message: 'a FIFO with no writer yet: waiting for one (Ctrl-C to stop)' }) + '\n'), FIFO_NOTICE_MS);
  try {
    return (await open(path, 'r')).createReadStream();
  } finally {
    clearTimeout(notice);
  }
}

/**
 * Archives, whose EVTX members are dumped, when named on the command line (directories give *.evtx
 * only): known by their signature, else their name (ingest/kind.ts), as hunt knows them.
 */
function isArchive(path: string): boolean {
  const kind = fileKind(path);
  return kind !== 'evtx' && kind !== 'json';
}

/**
 * Dumps the EVTX members of an archive in archive order, each streamed into the parser (a few chunks held)
 * and named archive!member in error lines; a member is a log by its name or its signature; other members
 * are passed over.
 */
async function dumpArchive(path: string, o: DumpOptions, out: StdoutWriter, pool: WorkerPool | undefined): Promise<number | 'closed'> {
  let status = 0;
  const fatal = (file: string, message: string): void => {
    status = 1;
    process.stderr.write(JSON.stringify({ level: 'fatal', file, message }) + '\n');
  };
  try {
    const [{ gunzippedName, openEntries }, { isEvtxMember, sourceName }, { peek }] = await Promise.all([import('../ingest/json/archive.js'), import('../ingest/json/read.js'), import('../ingest/json/content.js')]);
    for await (const e of openEntries(path)) {
      if ('error' in e) {
        // A member that cannot be read is reported if it is a log, or if it is the archive's own end.
        if (e.name === undefined || isEvtxMember(e.name)) fatal(sourceName(path, e.name), e.error);
        continue;
      }
      let chunks = e.chunks, name = e.name;
      if (!isEvtxMember(e.name)) {
        const peeked = await peek(e.chunks);
        if (signature(peeked.head) !== 'evtx') { await peeked.close(); continue; }
        chunks = peeked.chunks;
        // A gzipped log's content has no name of its own.
        name = e.name ?? gunzippedName(path);
      }
      const r = await dumpOne(chunks, o, out, pool, sourceName(path, name));
      if (r === 'closed') return r;
      status = Math.max(status, r);
    }
  } catch (err) {
    fatal(path, `cannot read: ${(err as Error).message}`);
  }
  return status;
}

/** Dumps one input; the exit status it calls for, or 'closed' when the reader of stdout went away. */
async function dumpOne(source: string | Readable | AsyncIterable<Buffer>, o: DumpOptions, out: StdoutWriter, pool: WorkerPool | undefined, name = 'stdin'): Promise<number | 'closed'> {
  let status = 0;
  for await (const batch of readEvtxChunks(source, { name, pool, parseOnMain: true, serialize: o.format, bytes: true, eventIds: o.eventIds, recover: o.recover })) {
    for (const item of batch.items) {
      if (item.kind !== 'error') continue;
      if (item.severity === 'fatal') status = 1;
      process.stderr.write(errorLine(item) + '\n');
    }
    const piece = batch.bytes ?? batch.text;
    if (piece && !(await out.write(piece))) return 'closed';
  }
  return status;
}
