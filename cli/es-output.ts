// The `--es` options shared by commands that index into Elasticsearch (hunt, later stream): flag kinds,
// usage text, opening the sink from flags, and the summary line. Secrets come from the environment or a
// config file, never from the command line (where other users could read them).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { HoptrailEsSink, SinkStats } from '../sinks/elasticsearch/hoptrail.js';
import type { EsConnectionOptions } from '../sinks/elasticsearch/connection.js';
import { isIndexPeriod } from '../sinks/elasticsearch/templates.js';
import type { ParsedArgs } from './args.js';
import { esRequested } from './es-flags.js';

export { ES_FLAGS, ES_USAGE } from './es-flags.js';

const EsConfigFile = z.strictObject({
  url: z.string().min(1).optional(),
  api_key: z.string().min(1).optional(),
  username: z.string().min(1).optional(),
  password: z.string().optional(),
  ca_file: z.string().min(1).optional(),
  tls_verify: z.boolean().optional(),
});

/** Connection options from --es, --es-config and --es-api-key-env; or why they cannot be used. */
export function esConnectionFromFlags(flags: ParsedArgs['flags'], env: NodeJS.ProcessEnv = process.env): EsConnectionOptions | string {
  const opts: EsConnectionOptions = {};
  const configPath = flags['es-config'];
  if (typeof configPath === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(configPath, 'utf8'));
    } catch (e) {
      return `--es-config ${configPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
    }
    const r = EsConfigFile.safeParse(parsed);
    if (!r.success) return `--es-config ${configPath}: ${r.error.issues.map((i) => `${i.path.join('.') || 'file'}: ${i.message}`).join('; ')}`;
    const c = r.data;
    Object.assign(opts, { url: c.url, apiKey: c.api_key, username: c.username, password: c.password, caFile: c.ca_file, tlsVerify: c.tls_verify });
  }
  if (typeof flags.es === 'string' && flags.es !== '') opts.url = flags.es;
  const keyEnv = flags['es-api-key-env'];
  if (typeof keyEnv === 'string') {
    const apiKey = env[keyEnv];
    if (!apiKey) return `--es-api-key-env: environment variable ${keyEnv} is empty or unset`;
    opts.apiKey = apiKey;
  }
  return opts;
}

/** The sink for these flags, opened; undefined without --es; a message (safe to print) on failure. */
export async function openEsOutput(
  flags: ParsedArgs['flags'],
  outDir: string,
  env: NodeJS.ProcessEnv = process.env,
  openTimeoutMs?: number,
): Promise<HoptrailEsSink | string | undefined> {
  if (!esRequested(flags)) return undefined;
  const connection = esConnectionFromFlags(flags, env);
  if (typeof connection === 'string') return connection;
  const url = connection.url ?? '';
  const apiKey = connection.apiKey;
  const replicas = flags['es-replicas'] === undefined ? undefined : Number(flags['es-replicas']);
  if (replicas !== undefined && !(Number.isInteger(replicas) && replicas >= 0)) return '--es-replicas needs a whole number';
  const period = flags['es-index-period'];
  if (period !== undefined && (typeof period !== 'string' || !isIndexPeriod(period))) return '--es-index-period needs day, month or year';
  // Loaded only when asked for: the client and its dependencies cost a run without --es ~0.1 s.
  const [{ HoptrailEsSink }, { redact }] = await Promise.all([import('../sinks/elasticsearch/hoptrail.js'), import('../sinks/elasticsearch/connection.js')]);
  const sink = new HoptrailEsSink({
    connection,
    env,
    prefix: typeof flags['es-prefix'] === 'string' ? flags['es-prefix'] : undefined,
    replicas,
    indexPeriod: period,
    rejectFile: join(outDir, 'es-rejects.ndjson'),
    openTimeoutMs,
  });
  try {
    const info = await sink.open();
    const per = { day: 'daily', month: 'monthly', year: 'yearly' }[period ?? 'day'];
    process.stderr.write(`hoptrail: indexing into ${info.description}${info.features.dataStreams ? ' (data streams)' : ` (${per} indices)`}\n`);
    return sink;
  } catch (e) {
    // The URL may carry user:password; the message must not.
    const secrets = [apiKey ?? '', connection.password ?? '', env.HOPTRAIL_ES_API_KEY ?? '', env.HOPTRAIL_ES_PASSWORD ?? ''];
    try {
      const u = new URL(url);
      if (u.password) secrets.push(u.password, decodeURIComponent(u.password));
    } catch {
      // resolveConnection already refused it with a safe message.
    }
    return `Elasticsearch: ${redact(e instanceof Error ? e.message : String(e), secrets)}`;
  }
}

/** The hunt summary's lines on Elasticsearch: the counts, and a note when the shard limit refused documents. */
export function esSummary(s: SinkStats, outDir: string): string[] {
  const sent = `${s.events.sent} event(s), ${s.sessions.sent} session(s), ${s.hops.sent} hop record(s), ${s.findings.sent} finding(s)`;
  const rej = s.indexer.rejected > 0 ? `, ${s.indexer.rejected} rejected (see ${join(outDir, 'es-rejects.ndjson')})` : ', 0 rejected';
  const lines = [`elasticsearch: ${sent} sent; ${s.indexer.indexed} indexed, ${s.indexer.duplicates} already there${rej}`];
  // The one refusal that is no fault of the documents, and the first that a hunt over years of logs meets.
  if (s.shardLimit > 0) lines.push(`  note: ${s.shardLimit} of them because the cluster is at its shard limit (cluster.max_shards_per_node): without the data-stream API, events go to one index per day of event time; run the hunt again with --es-index-period month (or year), raise the limit, or index into a cluster that has data streams (what is indexed already is not duplicated in the same indices)`);
  return lines;
}
