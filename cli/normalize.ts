// `hoptrail normalize <paths...> [--rejects FILE] [--input-format F] [--tz Z] [--threads N]`
// Normalized events as JSON lines on stdout, rejects as JSON lines in FILE, a summary on stderr.
// The work is ingest/pipeline.ts on this thread, or ingest/parallel (hunt's worker pool, same output in
// the same order) with --threads; this module only parses arguments and writes.
import type { InputFormat, Reject } from '../schemas/event.js';
import { INPUT_FORMATS } from '../schemas/values.js';
import { parseZone } from '../ingest/normalize/index.js';
import { listInputs } from '../ingest/sources.js';
import { normalizeFiles } from '../ingest/pipeline.js';
import { normalizeInParallel, warmUp } from '../ingest/parallel/pool.js';
import { optimizeLater } from './jit.js';
import { OutputFile } from './output-files.js';
import { StdoutWriter } from './stdout.js';
import { terminalSafe } from './terminal.js';

const USAGE = `usage: hoptrail normalize <paths...> [--rejects FILE] [--input-format F] [--tz Z] [--threads N]
  paths           EVTX files, JSON / JSON-lines files (UTF-8 or UTF-16), .zip/.tar/.tar.gz/.tgz/.gz
                  archives of them, or directories; a log or an archive is known by its signature
                  whatever its name
  --rejects FILE  write rejected inputs (source, position, reason, original text) as JSON lines to FILE
  --input-format  force the input shape: ${INPUT_FORMATS.join(', ')} (default: detect per file and line)
  --tz Z          zone of local-time sources (NXLog EventTime): Z, +02:00, -0400, America/New_York
  --threads N     read and normalize on N worker threads (default: this thread only); the output is
                  the same, in the same order, whatever N (more threads pay off on large inputs only)
exit: 0 ok, 1 an input could not be read, 2 usage`;

interface Args { paths: string[]; rejects?: string; format?: InputFormat; tz?: string; threads?: number }

function parseArgs(argv: string[]): Args | string {
  const a: Args = { paths: [] };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    const val = (): string | undefined => {
      const eq = x.indexOf('=');
      if (eq > 0) return x.slice(eq + 1);
      return argv[++i];
    };
    const flag = x.includes('=') ? x.slice(0, x.indexOf('=')) : x;
    if (flag === '--rejects') { const v = val(); if (!v) return '--rejects needs a file'; a.rejects = v; }
    else if (flag === '--input-format') {
      const v = val();
      const f = INPUT_FORMATS.find((x) => x === v);
      if (f === undefined) return `--input-format must be one of ${INPUT_FORMATS.join(', ')}`;
      a.format = f;
    } else if (flag === '--tz') { const v = val(); if (!v || !parseZone(v)) return `--tz: unknown zone '${v ?? ''}'`; a.tz = v; }
    else if (flag === '--threads') {
      const v = Number(val());
      if (!Number.isInteger(v) || v < 1 || v > 64) return '--threads must be an integer from 1 to 64';
      a.threads = v;
    }
    else if (x === '--') { a.paths.push(...argv.slice(i + 1)); break; }
    else if (x.startsWith('-') && x !== '-') return `unknown option ${x}`;
    else a.paths.push(x);
  }
  if (a.paths.length === 0) return 'no input paths';
  return a;
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    process.stderr.write(`hoptrail normalize: ${args}\n${USAGE}\n`);
    return 2;
  }
  // Workers start loading now, while the inputs are listed.
  // Before any worker exists (V8's flags are read by each new thread): as hunt, many input shapes.
  optimizeLater();
  // One worker starts at once; the pool starts the others once the inputs are planned, if they hold work for them.
  if (args.threads !== undefined) warmUp(1);
  // A path that cannot be read is reported (exit 1); the others are normalized all the same.
  // The rejects file and standard output (redirected to a file) are not read, if they lie among the inputs.
  const { files, errors: unreadable, notes } = await listInputs(args.paths, [...(args.rejects ? [args.rejects] : []), '/dev/stdout']);
  const started = Date.now();
  const rejects = args.rejects ? await OutputFile.open(args.rejects) : undefined;
  const out = new StdoutWriter(process.stdout);
  let nEvents = 0, nRejects = 0, nWarnings = 0;
  const reasons = new Map<string, number>();
  const writeReject = async (r: Reject, line: string): Promise<void> => {
    nRejects++;
    const key = r.reason.replace(/:.*$/s, '');
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
    if (rejects) await rejects.write(line + '\n');
  };
  // Damage read past: the data is kept, and said so (as `dump` does), one JSON line each.
  const writeWarning = (source: string, message: string): void => {
    nWarnings++;
    process.stderr.write(JSON.stringify({ level: 'warning', source, message }) + '\n');
  };

  if (args.threads === undefined) {
    for await (const it of normalizeFiles(files, { format: args.format, tz: args.tz })) {
      if (out.closed) break;
      if (it.kind === 'event') { nEvents++; await out.writeLine(JSON.stringify(it.event)); }
      else if (it.kind === 'reject') await writeReject(it.reject, JSON.stringify(it.reject));
      else if (it.kind === 'warning') writeWarning(it.source, it.message);
      else unreadable.push(`${it.file}: ${it.error}`);
    }
  } else {
    for await (const it of normalizeInParallel(files, { format: args.format, tz: args.tz, threads: args.threads, validate: 'fast' })) {
      if (out.closed) { if (it.kind === 'batch') it.release(); break; }
      if (it.kind === 'batch') {
        const b = it.batch;
        nEvents += b.events;
        await out.writeBytes(b.ndjson, it.release);
        for (const line of jsonLines(b.rejects)) await writeReject(JSON.parse(line) as Reject, line);
        for (const line of jsonLines(b.warnings)) {
          const w = JSON.parse(line) as { source: string; message: string };
          writeWarning(w.source, w.message);
        }
      } else if (it.kind === 'unreadable') unreadable.push(`${it.file}: ${it.error}`);
    }
  }
  await out.flush();
  await rejects?.end();
  const secs = (Date.now() - started) / 1000;
  const lines = [`hoptrail normalize: ${files.length} input(s), ${nEvents} event(s), ${nRejects} reject(s), ${nWarnings} warning(s) in ${secs.toFixed(2)} s${out.closed ? ' (stdout closed early: stopped)' : ''}`];
  for (const [k, n] of [...reasons].sort((a, b) => b[1] - a[1])) lines.push(`  reject: ${n} x ${k}`);
  for (const r of notes) lines.push(`  note: ${r}`);
  for (const u of unreadable) lines.push(`  unreadable: ${u}`);
  // File names and reasons quote the evidence: no control character reaches the terminal (as hunt).
  process.stderr.write(lines.map(terminalSafe).join('\n') + '\n');
  return unreadable.length > 0 ? 1 : 0;
}

/** The lines of a JSON-lines string (each ends with a newline). */
function jsonLines(text: string): string[] {
  return text === '' ? [] : text.slice(0, -1).split('\n');
}
