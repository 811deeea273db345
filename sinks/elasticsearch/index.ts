// The Elasticsearch sink: connection settings, feature detection, index templates, idempotent IDs and
// the bulk indexer. `connect()` ties the first two together for callers (hunt --es, stream).
import type { Client } from '@elastic/elasticsearch';
import { createClient, describeConnection, resolveConnection, secretsOf, type EsConnectionOptions, type ResolvedConnection } from './connection.js';
import { detectFeatures, type EsFeatures } from './features.js';

export * from './connection.js';
export * from './features.js';
export * from './ids.js';
export * from './indexer.js';
export * from './mappings.js';
export * from './hoptrail.js';
export * from './rejects.js';
export * from './templates.js';

export interface EsConnection {
  client: Client;
  connection: ResolvedConnection;
  features: EsFeatures;
  /** Pass to BulkIndexer's `secrets` so no log line can carry them. */
  secrets: string[];
  /** Safe to log. */
  description: string;
  close(): Promise<void>;
}

/** Resolves settings (options over env), builds the client and probes the cluster's features. */
export async function connect(opts: EsConnectionOptions = {}, env: NodeJS.ProcessEnv = process.env): Promise<EsConnection> {
  const connection = resolveConnection(opts, env);
  const client = createClient(connection);
  try {
    const features = await detectFeatures(client);
    return {
      client,
      connection,
      features,
      secrets: secretsOf(connection),
      description: describeConnection(connection),
      close: () => client.close(),
    };
  } catch (e) {
    await client.close();
    throw e;
  }
}
