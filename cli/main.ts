// hoptrail's command line: a thin dispatcher; each command lives in its own module under cli/.

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  dashboards: { summary: 'export Kibana saved objects (data views, dashboards) as NDJSON', load: () => import('./dashboards.js') },
  dump: { summary: 'parse EVTX files and print one record per line (jsonl or xml)', load: () => import('./dump.js') },
  hunt: { summary: 'rebuild PowerShell-remoting sessions, pair them across hosts, write sessions/hops/timeline', load: () => import('./hunt.js') },
  normalize: { summary: 'normalize EVTX and collector JSON to one event shape (JSON lines)', load: () => import('./normalize.js') },
  stream: { summary: 'live SOC mode: consume collector JSON from Kafka, detect, produce alerts (sessions, findings)', load: () => import('./stream.js') },
};

function usage(): string {
  const lines = ['usage: hoptrail <command> [options]', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(12)}${c.summary}`);
  lines.push('', 'hoptrail <command> --help for the options of one command');
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(usage() + '\n');
    return cmd === undefined ? 2 : 0;
  }
  // An own key only: `hoptrail constructor` is an unknown command, not Object's constructor.
  const c = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (!c) {
    process.stderr.write(`hoptrail: unknown command '${cmd}'\n${usage()}\n`);
    return 2;
  }
  const mod = await c.load();
  try {
    return await mod.run(rest);
  } catch (e) {
    // An output that cannot be written, or a file error met on the way: one line, exit 1.
    const fsError = (e as NodeJS.ErrnoException).code !== undefined && (e as NodeJS.ErrnoException).syscall !== undefined;
    if (e instanceof Error && (e.name === 'OutputError' || fsError)) {
      process.stderr.write(`hoptrail ${cmd}: ${e.message}\n`);
      return 1;
    }
    // Anything else is a defect of hoptrail's: said so, with the stack to report.
    process.stderr.write(`hoptrail ${cmd}: internal error (please report it with what follows): ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    return 1;
  }
}
