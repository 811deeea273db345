// `hoptrail dashboards export [--out FILE] [--prefix P]`: the Kibana saved objects (data views and
// dashboards) as NDJSON, ready for Kibana's saved-objects import. Built by dashboards/kibana/objects.ts.
import { writeFile } from 'node:fs/promises';
import { writeStdout } from './output-files.js';
import { parseArgs, UsageError } from './args.js';
import { buildKibanaObjects, toNdjson } from '../dashboards/kibana/objects.js';

const USAGE = `usage: hoptrail dashboards export [--out FILE] [--prefix P]
  --out FILE   write the NDJSON to FILE (default: stdout)
  --prefix P   index prefix the data views point at (default hoptrail; as hunt --es-prefix)
import into Kibana: curl -X POST KIBANA/api/saved_objects/_import?overwrite=true -H 'kbn-xsrf: true' --form file=@FILE
exit: 0 ok, 2 usage`;

export async function run(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs(argv, { out: 'string', prefix: 'string', help: 'boolean' });
  } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`hoptrail dashboards: ${e.message}\n${USAGE}\n`); return 2; }
    throw e;
  }
  if (args.flags.help || argv.includes('-h')) { process.stdout.write(USAGE + '\n'); return 0; }
  const [sub, ...extra] = args.positional;
  if (sub !== 'export' || extra.length > 0) { process.stderr.write(`hoptrail dashboards: expected 'export'\n${USAGE}\n`); return 2; }
  const prefix = typeof args.flags.prefix === 'string' ? args.flags.prefix : undefined;
  if (prefix !== undefined && !/^[a-z0-9][a-z0-9_.-]*$/.test(prefix)) { process.stderr.write(`hoptrail dashboards: --prefix must be lower case [a-z0-9_.-]\n`); return 2; }
  const { objects } = buildKibanaObjects(prefix);
  const text = toNdjson(objects);
  if (typeof args.flags.out === 'string') {
    await writeFile(args.flags.out, text);
    process.stderr.write(`hoptrail dashboards: ${objects.length} saved objects written to ${args.flags.out}\n`);
  } else await writeStdout(text);
  return 0;
}
