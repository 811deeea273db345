// The `--es` flags and their usage text, apart from es-output.ts: a command parses its arguments before it
// loads what indexing needs (zod, the client), and hunt starts its workers in between.
import type { FlagKinds, ParsedArgs } from './args.js';

export const ES_FLAGS: FlagKinds = { es: 'string', 'es-config': 'string', 'es-api-key-env': 'string', 'es-prefix': 'string', 'es-replicas': 'string', 'es-index-period': 'string' };

/** Indexing is asked for (--es or --es-config): only then is es-output.ts loaded. */
export function esRequested(flags: ParsedArgs['flags']): boolean {
  return typeof flags.es === 'string' || typeof flags['es-config'] === 'string';
}

export const ES_USAGE = `  --es URL       also index events, sessions, hops and findings into Elasticsearch (idempotent: a re-run
                 adds no document); refused documents go to DIR/es-rejects.ndjson with the reason.
                 Auth from the environment: HOPTRAIL_ES_API_KEY, or HOPTRAIL_ES_USERNAME/HOPTRAIL_ES_PASSWORD;
                 TLS: HOPTRAIL_ES_CA_FILE, HOPTRAIL_ES_TLS_VERIFY (on by default)
  --es-config FILE  connection settings as JSON: {"url", "api_key" | "username" + "password", "ca_file",
                 "tls_verify"}; they win over the environment, --es and --es-api-key-env win over them
  --es-api-key-env NAME  read the API key from env NAME instead
  --es-prefix P  index name prefix (default hoptrail; the Kibana dashboards expect it)
  --es-replicas N  replicas of new indices (0 on a single-node cluster)
  --es-index-period day|month|year  on a server without data streams, events go to one index per day of
                 event time (default), month or year: years of logs into a small cluster need month or
                 year (each index is a shard against cluster.max_shards_per_node)`;
