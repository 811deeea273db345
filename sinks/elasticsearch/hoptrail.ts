// hoptrail's Elasticsearch sink: normalized events, sessions, hops and findings into their index families,
// with idempotent IDs, so a re-run of a hunt or a replay of a stream adds no document. Used by
// `hunt --es` and by `stream`; both call open(), then event/session/hop/finding, then flush/close.
import { errors } from '@elastic/elasticsearch';
import type { NormalizedEvent } from '../../schemas/event.js';
import type { Chain, FanOut, Hop, Session } from '../../detectors/session.js';
import { severityRank, type Finding } from '../../detectors/findings/types.js';
import type { EsConnectionOptions } from './connection.js';
import type { EsFeatures } from './features.js';
import { docIdFromKey, docIdFromProvenance } from './ids.js';
import { BulkIndexer, type BulkDoc, type IndexerLogger, type IndexerStats } from './indexer.js';
import { detectFieldSupport, hoptrailFamilies, type FamilyName, type FieldSupport, type HoptrailFamilies } from './mappings.js';
import { JsonlRejectFile, type RejectRecord, type RejectSink } from './rejects.js';
import { DEFAULT_PREFIX, ensureIndexTemplates, familyPattern, indexFor, type IndexPeriod, type TemplateResult } from './templates.js';
import { connect, type EsConnection } from './index.js';

export interface HoptrailEsSinkOptions {
  /** URL, API key / basic auth, TLS (options over env HOPTRAIL_ES_*; see connection.ts). */
  connection?: EsConnectionOptions;
  env?: NodeJS.ProcessEnv;
  /** Index name prefix. Default "hoptrail" (the dashboards' data views expect it). */
  prefix?: string;
  /** Refused documents, with the reason: a JSON-lines file... */
  rejectFile?: string;
  /** ...or any reject sink (wins over rejectFile). */
  rejects?: RejectSink;
  /** Write events to a data stream where the server has the API. Default true. */
  useDataStreams?: boolean;
  /** Else, an index per day (default), month or year of event time. */
  indexPeriod?: IndexPeriod;
  /** number_of_replicas of new indices (0 on a single node). Default: the cluster's. */
  replicas?: number;
  /** How long open() waits for a server that is starting or restarting. Default 30 s. */
  openTimeoutMs?: number;
  /** Refresh the written indices on close() so a search right after sees everything. Default true. */
  refreshOnClose?: boolean;
  /** Passed to the bulk indexer (tests: small batches, refresh). */
  indexer?: { concurrency?: number; flushDocs?: number; flushIntervalMs?: number; refresh?: boolean | 'wait_for'; backoffMaxMs?: number };
  logger?: IndexerLogger;
}

export interface FamilyCounts {
  /** Documents handed to the indexer. */
  sent: number;
  /** Of those, refused by the cluster (in the reject file). */
  rejected: number;
}

export interface SinkStats {
  events: FamilyCounts;
  sessions: FamilyCounts;
  hops: FamilyCounts;
  findings: FamilyCounts;
  /** indexed: created or replaced; duplicates: events already there (a re-run); rejected; retries... */
  indexer: IndexerStats;
  /** Of the refused, those the cluster refused because it is at its shard limit (a new daily index each). */
  shardLimit: number;
}

export interface SinkInfo {
  /** Safe to log: URL without credentials, kind of auth. */
  description: string;
  features: EsFeatures;
  fields: FieldSupport;
  templates: TemplateResult[];
}

/** Longest key kept whole in a `flattened` field (a damaged log's key is garbage, and may be kilobytes long). */
const FLAT_KEY_MAX = 512;

/** A data key a `flattened` field takes: no NUL (the field's reserved separator), not absurdly long. */
function flatKey(k: string): string {
  const t = k.includes('\0') ? k.replaceAll('\0', '\uFFFD') : k;
  return t.length > FLAT_KEY_MAX ? t.slice(0, FLAT_KEY_MAX) + '\u2026' : t;
}

function needsFlatKeys(data: Record<string, string> | undefined): boolean {
  if (data === undefined) return false;
  for (const k in data) if (k.length > FLAT_KEY_MAX || k.includes('\0')) return true;
  return false;
}

function flatKeys(data: Record<string, string>): Record<string, string> {
  // Own keys only, whatever they are called (`constructor`, `__proto__`): a set, then fromEntries.
  const used = new Set<string>();
  const entries: [string, string][] = [];
  for (const [k, v] of Object.entries(data)) {
    const base = flatKey(k);
    let key = base;
    // Two keys that became one keep both values, as the parser keeps repeated names (`_2`, `_3`).
    for (let n = 2; used.has(key); n++) key = `${base}_${n}`;
    used.add(key);
    entries.push([key, v]);
  }
  return Object.fromEntries(entries);
}

/**
 * The event as Elasticsearch takes it. A damaged log's record can carry event data keys with NUL in them,
 * which a `flattened` field refuses, and with it the whole document (19 of the corpus's events): the keys
 * are made safe in the indexed copy only; events.ndjson keeps them as read.
 */
export function eventDoc(e: NormalizedEvent): NormalizedEvent {
  const w = e.winlog;
  if (!needsFlatKeys(w.event_data) && !needsFlatKeys(w.user_data)) return e;
  const winlog = { ...w };
  if (w.event_data !== undefined) winlog.event_data = flatKeys(w.event_data);
  if (w.user_data !== undefined) winlog.user_data = flatKeys(w.user_data);
  return { ...e, winlog };
}

/** The event's _id: host + channel + record ID; Kafka coordinates; else the file position. */
export function eventDocId(e: NormalizedEvent): string {
  const p = e.hoptrail.provenance;
  // A slack-space remnant may reuse the record ID of a live record: its own place in the file tells it apart.
  if (e.winlog.record_id !== undefined && !p.recovered) {
    return docIdFromProvenance({ host: e.host.name, channel: e.winlog.channel, recordId: e.winlog.record_id });
  }
  if (p.kafka) return docIdFromProvenance(p.kafka);
  const pos = p.offset ?? p.line ?? p.index;
  if (p.file !== undefined && pos !== undefined) {
    return docIdFromKey('file', p.recovered ? 'recovered' : '', p.file, p.entry ?? '', p.chunk ?? '', pos, e.winlog.record_id ?? '');
  }
  // No position at all (should not happen): the content identifies it.
  return docIdFromKey('content', JSON.stringify(e));
}

/** A hop, chain or fan-out's _id: what it is about, never when it was written. */
export function hopDocId(h: Hop | Chain | FanOut): string {
  if (h.type === 'hop') return docIdFromKey('hop', h.session_id, h.source, h.destination);
  if (h.type === 'chain') return docIdFromKey('chain', ...h.session_ids);
  return docIdFromKey('fanout', h.source, ...h.session_ids);
}

const FAMILIES: readonly FamilyName[] = ['events', 'sessions', 'hops', 'findings'];

/** Elasticsearch's words when a new index would pass cluster.max_shards_per_node. */
const SHARD_LIMIT = /maximum (?:normal )?shards open/;

/** Whether a refusal is the cluster's shard limit (a new daily index), not anything in the document. */
export function isShardLimit(error: unknown): boolean {
  const reason = (error as { reason?: unknown } | undefined)?.reason;
  return typeof reason === 'string' && SHARD_LIMIT.test(reason);
}

/** Counts refusals per family (from the index name) and passes them on. */
class CountingRejects implements RejectSink {
  readonly rejected: Record<FamilyName, number> = { events: 0, sessions: 0, hops: 0, findings: 0 };
  shardLimit = 0;
  constructor(private readonly inner: RejectSink | undefined, private readonly prefix: string, private readonly log: IndexerLogger) {}
  async write(records: readonly RejectRecord[]): Promise<void> {
    for (const r of records) {
      const fam = FAMILIES.find((f) => r.index.startsWith(`${this.prefix}-${f}`));
      if (fam) this.rejected[fam]++;
      if (isShardLimit(r.error)) this.shardLimit++;
    }
    if (this.inner) await this.inner.write(records);
    else if (records.length > 0) this.log.warn(`${records.length} document(s) refused and not kept (no reject file)`);
  }
  async close(): Promise<void> {
    await this.inner?.close();
  }
}

const defaultLogger: IndexerLogger = {
  info: (m) => console.error(`[es-sink] ${m}`),
  warn: (m) => console.error(`[es-sink] WARN ${m}`),
  error: (m) => console.error(`[es-sink] ERROR ${m}`),
};

/** Not a throw: callers await these methods and expect a rejected promise. */
const notOpen = (): Promise<never> => Promise.reject(new Error('HoptrailEsSink: open() first'));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A server that is down or still starting: worth waiting for, unlike a refusal. */
function transient(e: unknown): boolean {
  if (e instanceof errors.ResponseError) return e.statusCode === 503 || e.statusCode === 429;
  return e instanceof errors.ConnectionError || e instanceof errors.TimeoutError || e instanceof errors.NoLivingConnectionsError;
}

/** Kind and auth of recent sessions, so a hop document can carry them (Kibana cannot join). */
const SESSION_CACHE_MAX = 100_000;

export class HoptrailEsSink {
  private conn: EsConnection | undefined;
  private indexer: BulkIndexer | undefined;
  private families: HoptrailFamilies = hoptrailFamilies();
  private readonly prefix: string;
  private readonly log: IndexerLogger;
  private readonly counting: CountingRejects;
  private readonly sent: Record<FamilyName, number> = { events: 0, sessions: 0, hops: 0, findings: 0 };
  private readonly sessionInfo = new Map<string, { kind: string; auth?: string }>();

  constructor(private readonly opts: HoptrailEsSinkOptions = {}) {
    this.prefix = opts.prefix ?? DEFAULT_PREFIX;
    this.log = opts.logger ?? defaultLogger;
    const inner = opts.rejects ?? (opts.rejectFile !== undefined ? new JsonlRejectFile(opts.rejectFile) : undefined);
    this.counting = new CountingRejects(inner, this.prefix, this.log);
  }

  /** Connects, detects what the cluster offers, and creates or updates the index templates. */
  async open(): Promise<SinkInfo> {
    const deadline = Date.now() + (this.opts.openTimeoutMs ?? 30_000);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.tryOpen();
      } catch (e) {
        await this.conn?.close().catch(() => undefined);
        this.conn = undefined;
        if (!transient(e) || Date.now() > deadline) throw e;
        // The error's name and message carry no credentials (they are not part of the node URL).
        if (attempt === 0) this.log.warn(`Elasticsearch not ready (${e instanceof Error ? e.message : 'error'}); waiting up to ${Math.round((deadline - Date.now()) / 1000)} s`);
        await sleep(Math.min(2000, 200 * 2 ** attempt));
      }
    }
  }

  private async tryOpen(): Promise<SinkInfo> {
    const conn = await connect(this.opts.connection ?? {}, this.opts.env ?? process.env);
    this.conn = conn;
    const fields = await detectFieldSupport(conn.client);
    this.families = hoptrailFamilies(fields);
    const templates = await ensureIndexTemplates(conn.client, Object.values(this.families), {
      prefix: this.prefix,
      features: conn.features,
      useDataStreams: this.opts.useDataStreams,
      replicas: this.opts.replicas,
    });
    const ix = this.opts.indexer ?? {};
    this.indexer = new BulkIndexer({
      client: conn.client,
      rejects: this.counting,
      secrets: conn.secrets,
      logger: this.log,
      concurrency: ix.concurrency,
      flushDocs: ix.flushDocs,
      flushIntervalMs: ix.flushIntervalMs,
      refresh: ix.refresh,
      backoffMaxMs: ix.backoffMaxMs,
    });
    return { description: conn.description, features: conn.features, fields, templates };
  }

  /** A normalized event: created once (op create), so a replay counts as duplicates, not new documents. */
  event(e: NormalizedEvent): Promise<void> {
    if (!this.conn) return notOpen();
    const index = indexFor(this.families.events, this.targetOpts(), e['@timestamp']);
    return this.push('events', { index, id: eventDocId(e), op: 'create', doc: eventDoc(e) });
  }

  /** A session, replaced as a whole each time it is sent (it grows; a later state wins). */
  session(s: Session): Promise<void> {
    if (!this.conn) return notOpen();
    if (this.sessionInfo.size >= SESSION_CACHE_MAX) this.sessionInfo.delete(this.sessionInfo.keys().next().value as string);
    this.sessionInfo.set(s.session_id, { kind: s.kind, ...(s.auth ? { auth: s.auth } : {}) });
    const doc = { ...s, hoptrail: { command_count: s.commands.length } };
    return this.push('sessions', { index: indexFor(this.families.sessions, this.targetOpts()), id: s.session_id, op: 'index', doc });
  }

  /** A hop (with its session's kind and auth when the session was sent first), chain or fan-out. */
  hop(h: Hop | Chain | FanOut): Promise<void> {
    if (!this.conn) return notOpen();
    const extra = h.type === 'hop' ? this.sessionInfo.get(h.session_id) : undefined;
    const doc = { ...h, '@timestamp': h.type === 'hop' ? h.time : h.start, ...extra };
    return this.push('hops', { index: indexFor(this.families.hops, this.targetOpts()), id: hopDocId(h), op: 'index', doc });
  }

  /** A finding, replaced as a whole (more evidence may come). */
  finding(f: Finding): Promise<void> {
    if (!this.conn) return notOpen();
    const doc = { ...f, hoptrail: { severity_rank: severityRank(f.severity) } };
    return this.push('findings', { index: indexFor(this.families.findings, this.targetOpts()), id: f.finding_id, op: 'index', doc });
  }

  /** Resolves when everything sent so far is indexed, a duplicate, or in the reject file. */
  async flush(): Promise<void> {
    await this.indexer?.flush();
  }

  /** Flushes, refreshes the written indices (best effort), and closes the connection. */
  async close(): Promise<SinkStats> {
    try {
      await this.indexer?.close();
      if (this.conn && (this.opts.refreshOnClose ?? true)) {
        const index = FAMILIES.filter((f) => this.sent[f] > 0).map((f) => familyPattern(this.families[f], this.prefix));
        if (index.length > 0) {
          await this.conn.client.indices
            .refresh({ index, expand_wildcards: 'all', ignore_unavailable: true, allow_no_indices: true })
            .catch((e: unknown) => this.log.warn(`refresh after indexing failed: ${e instanceof Error ? e.name : 'error'}`));
        }
      }
    } finally {
      await this.counting.close();
      await this.conn?.close();
      this.conn = undefined;
    }
    return this.stats();
  }

  stats(): SinkStats {
    const fam = (f: FamilyName): FamilyCounts => ({ sent: this.sent[f], rejected: this.counting.rejected[f] });
    const none: IndexerStats = { pushed: 0, indexed: 0, duplicates: 0, rejected: 0, retries: 0, batches: 0, bytes: 0, outstanding: 0 };
    return { events: fam('events'), sessions: fam('sessions'), hops: fam('hops'), findings: fam('findings'), indexer: this.indexer?.stats() ?? none, shardLimit: this.counting.shardLimit };
  }

  /** Index names this sink writes to, per family (searches, tests). */
  patterns(): Record<FamilyName, string> {
    return {
      events: familyPattern(this.families.events, this.prefix),
      sessions: familyPattern(this.families.sessions, this.prefix),
      hops: familyPattern(this.families.hops, this.prefix),
      findings: familyPattern(this.families.findings, this.prefix),
    };
  }

  private targetOpts(): { features: EsFeatures; prefix: string; useDataStreams?: boolean; period?: IndexPeriod } {
    if (!this.conn) throw new Error('HoptrailEsSink: open() first');
    return { features: this.conn.features, prefix: this.prefix, useDataStreams: this.opts.useDataStreams, period: this.opts.indexPeriod };
  }

  private push(family: FamilyName, d: BulkDoc): Promise<void> {
    if (!this.indexer) return notOpen();
    this.sent[family]++;
    return this.indexer.push(d);
  }
}
