// `hoptrail hunt <paths...> [--out DIR]`: normalize every input, rebuild and pair remoting sessions, and
// write DIR/events.ndjson, DIR/sessions.ndjson, DIR/hops.ndjson and DIR/timeline.csv, with a short summary
// on stdout. The work is detectors/engine.ts; this module only reads, writes and reports progress.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs, UsageError } from './args.js';
import { HUNT_OUTPUTS, listInputs } from '../ingest/sources.js';
import { defaultThreads, normalizeInParallel, shippedEvents, warmUp, type JobBatch } from '../ingest/parallel/pool.js';
import type { Chain, FanOut, Hop, HuntOutput, Session } from '../detectors/session.js';
import type { RulesConfig } from '../detectors/findings/index.js';
import { ES_FLAGS, ES_USAGE, esRequested } from './es-flags.js';
import { EventsFile } from './events-file.js';
import { optimizeLater } from './jit.js';
import { makeDir, OutputFile } from './output-files.js';
import { terminalSafe } from './terminal.js';

const USAGE = `usage: hoptrail hunt <paths...> [--out DIR] [--lateness SEC] [--skew SEC] [--rules FILE] [--fail-on SEVERITY] [--es URL]
  paths          EVTX files, JSON / JSON-lines files (UTF-8 or UTF-16), .zip/.tar/.tar.gz/.tgz/.gz
                 archives of them, or directories (recursive); a log is known by its signature
                 whatever its name (\`Security\`, \`x.evtx.bak\`, a member without .evtx), an archive too
  --out DIR      output directory (default ./hoptrail-out): events.ndjson, sessions.ndjson, hops.ndjson,
                 timeline.csv, findings.ndjson, report.html (one self-contained page that opens offline),
                 rejects.ndjson (inputs that could not be normalized, with the reason) and
                 warnings.ndjson (damage read past: a CRC mismatch, a cut chunk, a log copied while open)
  --lateness SEC out-of-order arrival tolerated (default 300)
  --skew SEC     clock skew tolerated between hosts (default 120)
  --rules FILE   JSON rules file: per-rule severity/enabled, allow-lists (detectors/findings/README.md)
  --fail-on SEV  exit 3 when a finding is at or above SEV (info, low, medium, high, critical)
  --threads N    worker threads that read and normalize (default: the cores available, at most 4; never
                 more than the inputs have jobs for: one for a log under 2 MiB)
${ES_USAGE}
exit: 0 ok, 1 an input could not be read, 2 usage, 3 a finding at or above --fail-on`;


/**
 * Lines at least this long are held by the batch engine as a place in events.ndjson, shorter ones as
 * objects: the long few (PowerShell 800/4103/4104) are three quarters of the text, while reading back and
 * parsing the many short ones at the end, one by one, cost more than they save (x1: 2 000 of 11 600).
 */
const HOLD_ON_DISK = 2048;
/**
 * Bytes of short lines the batch engine may hold as objects; past them, it holds every event as a place
 * in events.ndjson (about 350 bytes each with its keys, against ~1.7 KB as an object). The engine holds every relevant
 * event to the end, and a domain controller's Security log is mostly relevant logons: without this, this
 * thread's heap grew by ~14 MB per copy of large/StolenSzechuan_DC_Security.evtx. All of ../shared holds
 * 13.7 MB of such lines: it stays within the budget, and reads nothing more back.
 */
const HOLD_AS_OBJECTS = 16 << 20;
/** Input bytes from which a hunt surely has two jobs (see the warm-up in run()). */
const EARLY_BYTES = 4 << 20;

class Progress {
  private last = 0;
  private readonly started = Date.now();
  constructor(private readonly on: boolean, private readonly totalBytes: number, private readonly totalFiles: number) {}
  tick(files: number, records: number, bytes: number, force = false): void {
    if (!this.on) return;
    const now = Date.now();
    if (!force && now - this.last < 200) return;
    this.last = now;
    const secs = Math.max((now - this.started) / 1000, 0.001);
    const mbs = bytes / 1e6 / secs;
    const eta = bytes > 0 && this.totalBytes > bytes ? ((this.totalBytes - bytes) / (bytes / secs)).toFixed(0) + ' s' : '-';
    const pct = this.totalBytes > 0 ? Math.min(100, (100 * bytes) / this.totalBytes) : 0;
    const bar = '#'.repeat(Math.round(pct / 5)).padEnd(20, '.');
    process.stderr.write(`\r[${bar}] ${files}/${this.totalFiles} files, ${records} records, ${mbs.toFixed(1)} MB/s, ETA ${eta}   `);
  }
  done(): void {
    if (this.on) process.stderr.write('\n');
  }
}

function sessionLine(s: Session): string {
  const who = s.user.name ? `${s.user.domain ? s.user.domain + '\\' : ''}${s.user.name}` : '?';
  const pair = s.paired ? 'paired' : `half (${s.unpaired_reason ?? ''})`;
  return `  ${s.start} ${s.kind.padEnd(10)} ${s.source.host ?? '?'} -> ${s.destination.host ?? '?'} as ${who}, ${s.commands.length} command(s), ${pair}`;
}

function countLines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

export async function run(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs(argv, { out: 'string', lateness: 'string', skew: 'string', rules: 'string', 'fail-on': 'string', threads: 'string', help: 'boolean', ...ES_FLAGS });
  } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`hoptrail hunt: ${e.message}\n${USAGE}\n`); return 2; }
    throw e;
  }
  if (args.flags.help || argv.includes('-h')) { process.stdout.write(USAGE + '\n'); return 0; }
  if (args.positional.length === 0) { process.stderr.write(`hoptrail hunt: no input paths\n${USAGE}\n`); return 2; }
  const secs = (name: string, def: number): number | string => {
    const v = args.flags[name];
    if (v === undefined) return def * 1000;
    const n = Number(v);
    return Number.isFinite(n) && n >= 0 ? n * 1000 : `--${name} needs a number of seconds`;
  };
  const lateness = secs('lateness', 300), skew = secs('skew', 120);
  if (typeof lateness === 'string' || typeof skew === 'string') {
    process.stderr.write(`hoptrail hunt: ${typeof lateness === 'string' ? lateness : String(skew)}\n${USAGE}\n`);
    return 2;
  }
  const threadsFlag = args.flags.threads;
  const askedThreads = threadsFlag === undefined ? undefined : Number(threadsFlag);
  if (askedThreads !== undefined && !(Number.isInteger(askedThreads) && askedThreads >= 1 && askedThreads <= 64)) { process.stderr.write(`hoptrail hunt: --threads needs a whole number from 1 to 64\n${USAGE}\n`); return 2; }
  // Before any worker exists: V8's flags are read by each new thread.
  optimizeLater();
  // A worker starts now: its start-up overlaps this thread loading the rest of hunt (the detectors, findings
  // and report take about a hundred milliseconds) and listing the inputs, which goes on meanwhile. Others
  // start once the inputs are listed when they surely hold work for them, else once they are planned
  // (normalizeInParallel).
  warmUp(1);
  const outDir = typeof args.flags.out === 'string' ? args.flags.out : './hoptrail-out';
  // A path that cannot be read is reported (and the exit code says so); the others are hunted all the same.
  // This run's outputs are not read, if the output directory is among the inputs (a run before left them).
  const listing = listInputs(args.positional, HUNT_OUTPUTS.map((f) => join(outDir, f)));
  listing.catch(() => undefined);
  const [{ HuntEngine, isRelevant, heldNote }, { DEFAULT_CONFIG, exitCodeFor, FindingsCollector, parseSeverity }, { renderReport }, { timelineHeader, timelineRows }] = await Promise.all([
    import('../detectors/engine.js'), import('../detectors/findings/index.js'), import('../dashboards/report/index.js'), import('../detectors/timeline.js'),
  ]);
  const failOnFlag = args.flags['fail-on'];
  const failOn = typeof failOnFlag === 'string' ? parseSeverity(failOnFlag) : undefined;
  if (typeof failOnFlag === 'string' && !failOn) { process.stderr.write(`hoptrail hunt: --fail-on needs info, low, medium, high or critical\n${USAGE}\n`); return 2; }
  let rules: RulesConfig = DEFAULT_CONFIG;
  if (typeof args.flags.rules === 'string') {
    // The rules file's parser loads zod (~50 ms): only for a hunt that has one.
    const { parseRulesConfig, RulesConfigError } = await import('../detectors/findings/config.js');
    try {
      rules = parseRulesConfig(await readFile(args.flags.rules, 'utf8'));
    } catch (e) {
      process.stderr.write(`hoptrail hunt: ${e instanceof RulesConfigError ? e.message : `cannot read ${args.flags.rules}: ${(e as Error).message}`}\n`);
      return 2;
    }
  }

  const { files, bytes: totalBytes, errors: unreadable, notes } = await listing;
  if (files.length === 0) {
    process.stderr.write(`hoptrail hunt: no readable input${unreadable.length > 0 ? `: ${unreadable.join('; ')}` : ''}\n`);
    return 1;
  }
  const threads = askedThreads ?? defaultThreads();
  // Every input is a job, and one of 4 MiB at least two (2 MiB EVTX ranges; a JSON input is shared): as
  // many workers start now, while the inputs are planned, as there will surely be jobs for.
  warmUp(Math.min(threads, Math.max(files.length, totalBytes >= EARLY_BYTES ? 2 : 1)));
  await makeDir(outDir);
  // --es: the same records also go to Elasticsearch.
  const esOutput = esRequested(args.flags) ? await import('./es-output.js') : undefined;
  const es = await esOutput?.openEsOutput(args.flags, outDir);
  if (typeof es === 'string') { process.stderr.write(`hoptrail hunt: ${es}\n`); return 1; }
  const events = new EventsFile(join(outDir, 'events.ndjson'));
  const sessionsOut = await OutputFile.open(join(outDir, 'sessions.ndjson'));
  const hopsOut = await OutputFile.open(join(outDir, 'hops.ndjson'));
  const timeline = await OutputFile.open(join(outDir, 'timeline.csv'));
  // Nothing is dropped silently: what could not be normalized is kept with its source, position and reason.
  const rejectsOut = await OutputFile.open(join(outDir, 'rejects.ndjson'));
  // Damage read past (a CRC mismatch, a truncated chunk, a file marked dirty): the data is kept, and said so.
  const warningsOut = await OutputFile.open(join(outDir, 'warnings.ndjson'));
  await timeline.write(timelineHeader());

  const started = Date.now();
  // Batch: files are read one after another, a later file may hold older events of another host, and a
  // collector's file need not be in time order; the engine holds the relevant events (bounded) to the end.
  const engine = new HuntEngine({ latenessMs: lateness, skewMs: skew, batch: true });
  for (const f of files) engine.openPartition(f);
  const progress = new Progress(process.stderr.isTTY === true, totalBytes, files.length);
  const sessions: Session[] = [];
  const hops: Hop[] = [], chains: Chain[] = [], fanouts: FanOut[] = [];
  const findings = new FindingsCollector(rules);
  let nHops = 0, nChains = 0, nFanouts = 0, nRejects = 0, nWarnings = 0, nEvents = 0, filesDone = 0, bytesDone = 0;
  const handle = async (outs: HuntOutput[]): Promise<void> => {
    for (const o of outs) {
      if (o.kind === 'session') {
        sessions.push(o.session);
        await es?.session(o.session);
        await sessionsOut.write(JSON.stringify(o.session) + '\n');
        for (const row of timelineRows(o.session)) await timeline.write(row);
      } else if (o.kind === 'hop') { nHops++; hops.push(o.hop); await es?.hop(o.hop); await hopsOut.write(JSON.stringify(o.hop) + '\n'); }
      else if (o.kind === 'chain') { nChains++; chains.push(o.chain); await es?.hop(o.chain); await hopsOut.write(JSON.stringify(o.chain) + '\n'); }
      else { nFanouts++; fanouts.push(o.fanout); await es?.hop(o.fanout); await hopsOut.write(JSON.stringify(o.fanout) + '\n'); }
    }
  };
  const finishFile = async (f: string, bytes: number): Promise<void> => {
    engine.closePartition(f);
    filesDone++;
    bytesDone += bytes;
    await handle(engine.drain());
  };
  // A function of its own, not the loop's body: run() stays small enough that the optimizing compiler is
  // not asked to compile all of it (again after each deoptimization) for this hot loop.
  let heldAsObjects = 0;
  const detect = async (b: JobBatch, file: string, at: number): Promise<void> => {
    for (const { event: e, start, end } of shippedEvents(b, es !== undefined)) {
      findings.push(e);
      if (es) await es.event(e);
      const n = end - start;
      const asObject = n < HOLD_ON_DISK && heldAsObjects + n <= HOLD_AS_OBJECTS;
      if (asObject && isRelevant(e)) heldAsObjects += n;
      const outs = engine.push(e, file, asObject ? undefined : events.line(at + start, at + end));
      if (outs.length > 0) await handle(outs);
    }
  };
  // Workers read, normalize and serialize; this thread writes their lines and runs the detectors on the
  // events they use (all of them with --es, which indexes every event).
  for await (const it of normalizeInParallel(files, { validate: 'fast', threads, shipAll: es !== undefined })) {
    if (it.kind === 'batch') {
      const b = it.batch;
      nEvents += b.events;
      // The bytes go back to their worker once written and once the shipped events are parsed from them.
      let readers = 2;
      const done = (): void => { if (--readers === 0) it.release(); };
      const at = await events.write(b.ndjson, done);
      await detect(b, it.file, at);
      done();
      if (b.rejects !== '') {
        await rejectsOut.write(b.rejects);
        nRejects += countLines(b.rejects);
      }
      if (b.warnings !== '') {
        await warningsOut.write(b.warnings);
        nWarnings += countLines(b.warnings);
      }
      progress.tick(filesDone, nEvents, bytesDone);
    } else if (it.kind === 'file-done') await finishFile(it.file, it.bytes);
    else unreadable.push(`${it.file}: ${it.error}`);
  }
  await handle(engine.flush());
  progress.tick(files.length, nEvents, totalBytes, true);
  progress.done();
  await events.close();
  await Promise.all([sessionsOut.end(), hopsOut.end(), timeline.end(), rejectsOut.end(), warningsOut.end()]);
  const found = findings.finish({ sessions, hops, chains, fanouts });
  for (const f of found) await es?.finding(f);
  const esStats = await es?.close();
  await writeFile(join(outDir, 'findings.ndjson'), found.map((f) => JSON.stringify(f) + '\n').join(''));
  await writeFile(join(outDir, 'report.html'), renderReport({ generated: new Date().toISOString(), inputs: args.positional, sessions, hops, findings: found, events: nEvents }));

  const took = (Date.now() - started) / 1000;
  const paired = sessions.filter((s) => s.paired).length;
  const lines = [
    `hoptrail hunt: ${files.length} input(s), ${nEvents} event(s), ${nRejects} reject(s), ${nWarnings} warning(s) in ${took.toFixed(2)} s`,
    `${sessions.length} session(s): ${paired} paired, ${sessions.length - paired} half; ${nHops} hop(s), ${nChains} chain(s), ${nFanouts} fan-out(s)`,
    ...[...sessions].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0)).map(sessionLine),
    `${found.length} finding(s): ${['critical', 'high', 'medium', 'low', 'info'].map((s) => `${found.filter((f) => f.severity === s).length} ${s}`).join(', ')}`,
    ...found.slice(0, 20).map((f) => `  [${f.severity}] ${f.title}`),
    ...(found.length > 20 ? [`  ... and ${found.length - 20} more in findings.ndjson`] : []),
    `written to ${outDir}/ (events.ndjson, sessions.ndjson, hops.ndjson, timeline.csv, findings.ndjson, report.html${nRejects > 0 ? ', rejects.ndjson' : ''}${nWarnings > 0 ? ', warnings.ndjson' : ''})`,
  ];
  if (esStats && esOutput) lines.push(...esOutput.esSummary(esStats, outDir));
  if (findings.stats().sightings_overflow > 0) lines.push(`  note: ${findings.stats().sightings_overflow} command text(s) not examined (memory cap)`);
  const held = heldNote(engine.stats());
  if (held !== undefined) lines.push(`  note: ${held}`);
  for (const r of notes) lines.push(`  note: ${r}`);
  for (const u of unreadable) lines.push(`  unreadable: ${u}`);
  // Host, user and finding titles are attacker-controlled: no control character reaches the terminal.
  process.stdout.write(lines.map(terminalSafe).join('\n') + '\n');
  if (unreadable.length > 0) return 1;
  return failOn ? exitCodeFor(found, failOn) : 0;
}
