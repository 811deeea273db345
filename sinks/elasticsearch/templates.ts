// Composable index templates per index family, and the names of the indices they govern.
//
// Naming scheme: family F under prefix P (default "hoptrail"):
//   template  P-F-v<version>   (priority 100 + version, so a newer version wins over a stale one)
//   targets   P-F              (data stream, time-series families, when the cluster has the data-stream API)
//             P-F-YYYY.MM.DD   (daily index, time-series families without data streams; or P-F-YYYY.MM,
//                               P-F-YYYY with a monthly or yearly period)
//             P-F-v<version>   (entity families: sessions, findings; upserted documents, one index per
//                               mapping version so a mapping change never conflicts with old documents)
// Templates carry `version` and `_meta.mapping_sha1`; ensureIndexTemplates() rewrites one only when it
// changed, and removes older hoptrail versions of the same family.
import { createHash } from 'node:crypto';
import { errors, type Client } from '@elastic/elasticsearch';
import type { EsFeatures } from './features.js';

export type FamilyKind = 'timeseries' | 'entity';

/**
 * How time-series documents are spread over indices where the cluster has no data streams: one index per
 * day of event time (the default), month or year. Evidence spans years (a DC's System log: 2014-2020), and
 * every index is a shard against the cluster's limit (cluster.max_shards_per_node, 1 000 by default).
 */
export type IndexPeriod = 'day' | 'month' | 'year';
const INDEX_PERIODS: readonly string[] = ['day', 'month', 'year'];

/** Whether a flag's value names a period. */
export function isIndexPeriod(v: string): v is IndexPeriod {
  return INDEX_PERIODS.includes(v);
}

export interface IndexFamily {
  /** Short name, e.g. "events", "sessions", "findings". Lower case, no "*", no ",". */
  name: string;
  kind: FamilyKind;
  /** Bump when the mappings change incompatibly. */
  version: number;
  /** Elasticsearch mappings ({properties, dynamic, ...}); `dynamic` defaults to false (stray fields are kept
   *  in _source but not mapped, so they cannot explode the mapping). */
  mappings: Record<string, unknown>;
  /** Extra index settings (merged over the defaults below). */
  settings?: Record<string, unknown>;
}

export interface TemplateOptions {
  prefix?: string;
  features: Pick<EsFeatures, 'dataStreams' | 'composableTemplates'>;
  /** Prefer data streams for time-series families when the cluster has them. Default true. */
  useDataStreams?: boolean;
  /** number_of_replicas; default: leave to the cluster (set 0 on a single-node test server). */
  replicas?: number;
  /** Refresh interval; default the cluster's. */
  refreshInterval?: string;
  /** Index per day (default), month or year of event time, without data streams. */
  period?: IndexPeriod;
}

export const DEFAULT_PREFIX = 'hoptrail';

function checkName(s: string, what: string): void {
  if (!/^[a-z0-9][a-z0-9_.-]*$/.test(s)) throw new Error(`${what} "${s}" must be lower case [a-z0-9_.-]`);
}

export function templateName(family: Pick<IndexFamily, 'name' | 'version'>, prefix = DEFAULT_PREFIX): string {
  return `${prefix}-${family.name}-v${family.version}`;
}

/** True when time-series documents of this family go to a data stream on this cluster. */
export function usesDataStream(family: Pick<IndexFamily, 'kind'>, opts: Pick<TemplateOptions, 'features' | 'useDataStreams'>): boolean {
  return family.kind === 'timeseries' && (opts.useDataStreams ?? true) && opts.features.dataStreams;
}

/**
 * The index suffix from the event's own time (UTC), never from the ingest time, so IDs stay idempotent:
 * YYYY.MM.DD, YYYY.MM or YYYY.
 */
export function periodSuffix(time: Date | string | number, period: IndexPeriod = 'day'): string {
  const d = time instanceof Date ? time : new Date(time);
  if (Number.isNaN(d.getTime())) throw new Error(`invalid event time: ${String(time)}`);
  return d.toISOString().slice(0, period === 'year' ? 4 : period === 'month' ? 7 : 10).replace(/-/g, '.');
}

/**
 * The index (or data stream) a document of this family goes to. Time-series families need the event time.
 * A data-stream target only accepts op "create".
 */
export function indexFor(
  family: Pick<IndexFamily, 'name' | 'kind' | 'version'>,
  opts: Pick<TemplateOptions, 'features' | 'useDataStreams' | 'prefix' | 'period'>,
  eventTime?: Date | string | number,
): string {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  if (family.kind === 'entity') return `${prefix}-${family.name}-v${family.version}`;
  if (usesDataStream(family, opts)) return `${prefix}-${family.name}`;
  if (eventTime === undefined) throw new Error(`family ${family.name} is time-series: an event time is needed`);
  return `${prefix}-${family.name}-${periodSuffix(eventTime, opts.period)}`;
}

/** Pattern that matches every index and data stream of a family (for searches and data views). */
export function familyPattern(family: Pick<IndexFamily, 'name'>, prefix = DEFAULT_PREFIX): string {
  return `${prefix}-${family.name}*`;
}

/** The template body for a family (exported for tests and for dashboards' field checks). */
export function buildTemplate(family: IndexFamily, opts: TemplateOptions): Record<string, unknown> {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  checkName(prefix, 'prefix');
  checkName(family.name, 'family name');
  const ds = usesDataStream(family, opts);
  const mappings = { dynamic: false, ...family.mappings };
  const settings: Record<string, unknown> = {
    ...(opts.replicas !== undefined ? { number_of_replicas: opts.replicas } : {}),
    ...(opts.refreshInterval !== undefined ? { refresh_interval: opts.refreshInterval } : {}),
    // Bounded even if a caller sets dynamic: true.
    'mapping.total_fields.limit': 2000,
    ...family.settings,
  };
  const sha = createHash('sha1').update(JSON.stringify({ mappings, settings, ds })).digest('hex');
  // Exact name for the data stream / entity index, "-*" for daily indices: never a bare "P-F*", which
  // would also catch a family whose name starts with this one.
  const patterns =
    family.kind === 'entity'
      ? [`${prefix}-${family.name}-v*`]
      : ds
        ? [`${prefix}-${family.name}`]
        : [`${prefix}-${family.name}-*`];
  return {
    index_patterns: patterns,
    priority: 100 + family.version,
    version: family.version,
    _meta: { managed_by: 'hoptrail', family: family.name, mapping_sha1: sha },
    ...(ds ? { data_stream: {} } : {}),
    template: { settings, mappings },
  };
}

export interface TemplateResult {
  name: string;
  action: 'created' | 'updated' | 'unchanged';
  removed: string[];
}

/**
 * Creates or updates the composable template of each family (idempotent: unchanged ones are left alone)
 * and deletes older hoptrail-managed versions of the same family. Requires the _index_template API.
 */
export async function ensureIndexTemplates(client: Client, families: readonly IndexFamily[], opts: TemplateOptions): Promise<TemplateResult[]> {
  if (!opts.features.composableTemplates) throw new Error('this cluster has no composable index templates (_index_template)');
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const out: TemplateResult[] = [];
  for (const family of families) {
    const name = templateName(family, prefix);
    const body = buildTemplate(family, opts);
    const sha = (body._meta as { mapping_sha1: string }).mapping_sha1;
    const existing = await client.indices
      .getIndexTemplate({ name: `${prefix}-${family.name}-v*` })
      .then((r) => r.index_templates)
      .catch((e: unknown) => {
        if (e instanceof errors.ResponseError && e.statusCode === 404) return [];
        throw e;
      });
    const same = existing.find((t) => t.name === name);
    let action: TemplateResult['action'] = 'unchanged';
    if (!same || (same.index_template._meta as { mapping_sha1?: string } | undefined)?.mapping_sha1 !== sha) {
      await client.transport.request({ method: 'PUT', path: `/_index_template/${encodeURIComponent(name)}`, body });
      action = same ? 'updated' : 'created';
    }
    const removed: string[] = [];
    for (const t of existing) {
      const meta = t.index_template._meta as { managed_by?: string } | undefined;
      if (t.name === name || meta?.managed_by !== 'hoptrail' || (t.index_template.version ?? 0) >= family.version) continue;
      // A template still used by a data stream cannot be removed; the newer one wins by priority anyway.
      await client.indices.deleteIndexTemplate({ name: t.name }).then(
        () => removed.push(t.name),
        () => undefined,
      );
    }
    out.push({ name, action, removed });
  }
  return out;
}
