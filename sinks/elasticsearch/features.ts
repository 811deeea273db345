// Feature detection. A minimal cluster (the integ-test-zip, or a locked-down API key) may lack root
// `GET /`, ILM and the data-stream API; each is probed on its own and a failure means "absent", never a crash.
import { errors, type Client } from '@elastic/elasticsearch';

export interface EsFeatures {
  /** Server version from `GET /` or `_nodes/_local`, when either answers. */
  version?: string;
  /** Root `GET /` answers (absent on the minimal distribution: 405). */
  rootInfo: boolean;
  /** `_data_stream` API present: only then does the sink write time series to data streams. */
  dataStreams: boolean;
  /** `_ilm` API present. */
  ilm: boolean;
  /** `_index_template` (composable templates) present. */
  composableTemplates: boolean;
  /** Installed modules, when `_nodes/_local` is allowed. */
  modules?: string[];
}

interface Probe {
  ok: boolean;
  status?: number;
  body?: unknown;
  errorType?: string;
}

async function probe(client: Client, path: string, querystring?: Record<string, string>): Promise<Probe> {
  try {
    const body = await client.transport.request({ method: 'GET', path, querystring }, { requestTimeout: 10_000 });
    return { ok: true, status: 200, body };
  } catch (e) {
    if (e instanceof errors.ResponseError) {
      const err = (e.body as { error?: { type?: string } } | undefined)?.error;
      return { ok: false, status: e.statusCode, errorType: typeof err === 'object' ? err?.type : undefined };
    }
    // Unreachable server: that is not "feature absent"; let the caller see it.
    throw e;
  }
}

/** Probes the cluster. Throws only when the server cannot be reached at all. */
export async function detectFeatures(client: Client): Promise<EsFeatures> {
  const [root, nodes, ds, ilm, tpl] = await Promise.all([
    probe(client, '/'),
    probe(client, '/_nodes/_local', { filter_path: 'nodes.*.version,nodes.*.modules.name' }),
    // A wildcard that matches nothing: 200 with an empty list where the API exists (a plain missing name
    // would be a 404 index_not_found, indistinguishable from a fall-through).
    probe(client, '/_data_stream/hoptrail-probe-none-*'),
    probe(client, '/_ilm/status'),
    probe(client, '/_index_template/_hoptrail_probe_'),
  ]);
  let version: string | undefined;
  let modules: string[] | undefined;
  if (root.ok) version = (root.body as { version?: { number?: string } }).version?.number;
  if (nodes.ok) {
    const n = Object.values((nodes.body as { nodes?: Record<string, { version?: string; modules?: Array<{ name: string }> }> }).nodes ?? {})[0];
    version ??= n?.version;
    modules = n?.modules?.map((m) => m.name);
  }
  // A missing named resource (404 *_not_found / *_missing) proves the API exists; 400 "invalid index name"
  // or 405 mean the path fell through to another handler, i.e. the API is absent. 401/403: cannot tell,
  // assume present as on any full cluster.
  const apiPresent = (p: Probe): boolean =>
    p.ok ||
    (p.status === 404 && p.errorType !== 'index_not_found_exception') ||
    p.status === 401 ||
    p.status === 403;
  return {
    version,
    rootInfo: root.ok,
    dataStreams: apiPresent(ds),
    ilm: ilm.ok || ilm.status === 401 || ilm.status === 403,
    composableTemplates: apiPresent(tpl),
    modules,
  };
}
