// `hoptrail normalize <paths...> [--rejects FILE] [--input-format F] [--tz Z]`
// Normalized events as JSON lines on stdout, rejects as JSON lines in FILE, a summary on stderr.
// The work is ingest/pipeline.ts; this module only parses arguments and writes.
import { createWriteStream } from 'node:fs';
import { InputFormat, type Reject } from '../schemas/event.js';
import { parseZone } from '../ingest/normalize/index.js';
import { listInputs } from '../ingest/sources.js';
import { normalizeFiles } from '../ingest/pipeline.js';

const USAGE = `usage: hoptrail normalize <paths...> [--rejects FILE] [--input-format F] [--tz Z]
  paths           EVTX files, JSON / JSON-lines files, .zip/.tar.gz/.gz archives of them, or directories
  --rejects FILE  write rejected inputs (source, position, reason, original text) as JSON lines to FILE
  --input-format  force the input shape: ${InputFormat.options.join(', ')} (default: detect per file and line)
  --tz Z          zone of local-time sources (NXLog EventTime): Z, +02:00, -0400, America/New_York
exit: 0 ok, 1 an input could not be read, 2 usage`;

interface Args { paths: string[]; rejects?: string; format?: InputFormat; tz?: string }

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
      const f = InputFormat.safeParse(v);
      if (!f.success) return `--input-format must be one of ${InputFormat.options.join(', ')}`;
      a.format = f.data;
    } else if (flag === '--tz') { const v = val(); if (!v || !parseZone(v)) return `--tz: unknown zone '${v ?? ''}'`; a.tz = v; }
    else if (x === '--') { a.paths.push(...argv.slice(i + 1)); break; }
    else if (x.startsWith('-') && x !== '-') return `unknown option ${x}`;
    else a.paths.push(x);
  }
  if (a.paths.length === 0) return 'no input paths';
  return a;
}

/** Buffered line writer honouring back-pressure. */
class Lines {
  private buf = '';
  /** Set when the reader went away (`| head`): stop writing and finish quietly. */
  closed = false;
  constructor(private readonly out: NodeJS.WritableStream) {
    out.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      this.closed = true;
      this.out.emit('drain');
    });
  }
  async write(line: string): Promise<void> {
    this.buf += line + '\n';
    if (this.buf.length >= 1 << 16) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.closed) { this.buf = ''; return; }
    if (this.buf.length === 0) return;
    const ok = this.out.write(this.buf);
    this.buf = '';
    if (!ok) await new Promise<void>((r) => this.out.once('drain', () => r()));
  }
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
  // A path that cannot be read is reported (exit 1); the others are normalized all the same.
  const { files, errors: unreadable } = await listInputs(args.paths);
  const started = Date.now();
  const rejectSink = args.rejects ? createWriteStream(args.rejects) : undefined;
  const rejects = rejectSink ? new Lines(rejectSink) : undefined;
  const out = new Lines(process.stdout);
  let nEvents = 0, nRejects = 0, nWarnings = 0;
  const reasons = new Map<string, number>();
  const writeReject = async (r: Reject): Promise<void> => {
    nRejects++;
    const key = r.reason.replace(/:.*$/s, '');
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
    if (rejects) await rejects.write(JSON.stringify(r));
  };

  for await (const it of normalizeFiles(files, { format: args.format, tz: args.tz })) {
    if (out.closed) break;
    if (it.kind === 'event') { nEvents++; await out.write(JSON.stringify(it.event)); }
    else if (it.kind === 'reject') await writeReject(it.reject);
    else if (it.kind === 'warning') {
      nWarnings++;
      // Damage read past: the data is kept, and said so (as `dump` does), one JSON line each.
      process.stderr.write(JSON.stringify({ level: 'warning', source: it.source, message: it.message }) + '\n');
    }
    else unreadable.push(`${it.file}: ${it.error}`);
  }
  await out.flush();
  if (rejects && rejectSink) {
    await rejects.flush();
    await new Promise<void>((r) => rejectSink.end(() => r()));
  }
  const secs = (Date.now() - started) / 1000;
  const lines = [`hoptrail normalize: ${files.length} input(s), ${nEvents} event(s), ${nRejects} reject(s), ${nWarnings} warning(s) in ${secs.toFixed(2)} s${out.closed ? ' (stdout closed early: stopped)' : ''}`];
  for (const [k, n] of [...reasons].sort((a, b) => b[1] - a[1])) lines.push(`  reject: ${n} x ${k}`);
  for (const u of unreadable) lines.push(`  unreadable: ${u}`);
  process.stderr.write(lines.join('\n') + '\n');
  return unreadable.length > 0 ? 1 : 0;
}
