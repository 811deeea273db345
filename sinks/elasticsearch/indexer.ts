// A generic bulk indexer: bounded queue (push awaits when full), bounded concurrency, flush by
// count/bytes/time, retries with backoff, per-item failure handling. Documents carry caller-made,
// idempotent IDs, so every retry (even of a request the server half-applied) is safe.
import { errors, type Client } from '@elastic/elasticsearch';
import { JsonlRejectFile, type RejectRecord, type RejectSink } from './rejects.js';

export type BulkOp = 'index' | 'create' | 'update-upsert';

export interface BulkDoc {
  index: string;
  id: string;
  doc: unknown;
  /** index: create or overwrite; create: only if absent (a 409 counts as "already there", not an error);
   *  update-upsert: partial update, creating the document if absent. Default index. */
  op?: BulkOp;
}

export interface IndexerLogger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface BulkIndexerOptions {
  client: Client;
  /** Documents the cluster refuses go here with the reason... */
  rejects?: RejectSink;
  /** ...or to this JSON-lines file. With neither: a warning in the log, and the document is dropped. */
  rejectFile?: string;
  /** Concurrent _bulk requests. Default 2. */
  concurrency?: number;
  /** A batch is sent at this many documents... Default 1000. */
  flushDocs?: number;
  /** ...or this many bytes of NDJSON. Default 5 MiB. */
  flushBytes?: number;
  /** ...or when the oldest queued document waited this long. Default 1000 ms. */
  flushIntervalMs?: number;
  /** Documents accepted but not yet settled (queued + in flight + retrying); push awaits beyond.
   *  Default (concurrency + 1) x flushDocs: every slot busy plus one batch filling. A deeper queue buys
   *  no throughput here and costs GC time (measured with bench/index). */
  maxQueuedDocs?: number;
  /** Same bound in bytes. Default (concurrency + 1) x flushBytes. */
  maxQueuedBytes?: number;
  /** Retries of a batch (or of its failed items) on 429 and 5xx. Default 10. */
  maxRetries?: number;
  /** How long to keep retrying while the server is unreachable. Default Infinity (wait through restarts). */
  connectionRetryTimeoutMs?: number;
  /** Backoff: initial and cap. Defaults 100 ms and 10 s (full jitter). */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** `refresh` parameter of each _bulk (tests: "wait_for"). Default none. */
  refresh?: boolean | 'wait_for';
  /** Masked in every log line. */
  secrets?: readonly string[];
  logger?: IndexerLogger;
}

export interface IndexerStats {
  pushed: number;
  /** Created or overwritten. */
  indexed: number;
  /** op create hit an existing document (idempotent replay). */
  duplicates: number;
  rejected: number;
  retries: number;
  batches: number;
  bytes: number;
  /** Accepted and not yet settled. */
  outstanding: number;
}

// The caller's document object is not kept once serialised: a deep queue of live objects costs GC time,
// and the rare reject record is rebuilt from the NDJSON.
interface Entry {
  seq: number;
  op: BulkOp;
  /** Action line + source line, NDJSON. */
  text: string;
  bytes: number;
}

function fromText(en: Entry): { index: string; id: string; doc: unknown } {
  const nl = en.text.indexOf('\n');
  const action = JSON.parse(en.text.slice(0, nl)) as Record<string, { _index: string; _id: string }>;
  const meta = Object.values(action)[0];
  const src = JSON.parse(en.text.slice(nl + 1)) as unknown;
  return { index: meta._index, id: meta._id, doc: en.op === 'update-upsert' ? (src as { doc: unknown }).doc : src };
}

type Outcome = 'indexed' | 'duplicate' | { status: number; error: unknown };

interface BulkItemResult {
  status: number;
  error?: { type?: string; reason?: string };
}

const defaultLogger: IndexerLogger = {
  info: (m) => console.error(`[es-sink] ${m}`),
  warn: (m) => console.error(`[es-sink] WARN ${m}`),
  error: (m) => console.error(`[es-sink] ERROR ${m}`),
};

const RESOLVED: Promise<void> = Promise.resolve();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function isConnectionError(e: unknown): boolean {
  return (
    e instanceof errors.ConnectionError ||
    e instanceof errors.TimeoutError ||
    e instanceof errors.NoLivingConnectionsError ||
    // 503: a node shutting down or starting (no master yet, cluster blocks): an outage, not a bad request.
    (e instanceof errors.ResponseError && e.statusCode === 503)
  );
}

function isRetryableStatus(status: number | undefined): boolean {
  return status === 429 || (status !== undefined && status >= 500);
}

function itemRetryable(status: number): boolean {
  // 429: queue full; 5xx: shard unavailable, node closing...
  return status === 429 || status >= 500;
}

function actionLine(d: BulkDoc): string {
  const meta = JSON.stringify({ _index: d.index, _id: d.id });
  switch (d.op ?? 'index') {
    case 'index':
      return `{"index":${meta}}\n${JSON.stringify(d.doc)}\n`;
    case 'create':
      return `{"create":${meta}}\n${JSON.stringify(d.doc)}\n`;
    case 'update-upsert':
      // retry_on_conflict: two in-flight partial updates of one session must both apply.
      return `{"update":{"_index":${JSON.stringify(d.index)},"_id":${JSON.stringify(d.id)},"retry_on_conflict":5}}\n{"doc":${JSON.stringify(d.doc)},"doc_as_upsert":true}\n`;
  }
}

/** The error is fatal to the indexer (bad credentials, missing privileges, retries exhausted). */
export class IndexerError extends Error {}

export class BulkIndexer {
  private readonly client: Client;
  private readonly rejects?: RejectSink;
  private readonly log: IndexerLogger;
  private readonly concurrency: number;
  private readonly flushDocs: number;
  private readonly flushBytes: number;
  private readonly flushIntervalMs: number;
  private readonly maxQueuedDocs: number;
  private readonly maxQueuedBytes: number;
  private readonly maxRetries: number;
  private readonly connTimeoutMs: number;
  private readonly backoffInitial: number;
  private readonly backoffMax: number;
  private readonly refresh: BulkIndexerOptions['refresh'];
  private readonly secrets: readonly string[];

  private seq = 0;
  private pending: Entry[] = [];
  private pendingBytes = 0;
  private pendingSince = 0;
  private readonly ready: Entry[][] = [];
  private inFlight = 0;
  /** seqs accepted and not yet settled, in push order (a Set keeps insertion order). */
  private readonly outstanding = new Set<number>();
  private outstandingBytes = 0;
  private readonly spaceWaiters: Array<() => void> = [];
  private readonly flushWaiters: Array<{ seq: number; resolve: () => void; reject: (e: Error) => void }> = [];
  private readonly timer: NodeJS.Timeout;
  private failure: IndexerError | undefined;
  private closed = false;
  private outageSince: number | undefined;
  private outageLoggedAt = 0;
  private readonly s: Omit<IndexerStats, 'outstanding'> = { pushed: 0, indexed: 0, duplicates: 0, rejected: 0, retries: 0, batches: 0, bytes: 0 };

  constructor(opts: BulkIndexerOptions) {
    this.client = opts.client;
    this.rejects = opts.rejects ?? (opts.rejectFile !== undefined ? new JsonlRejectFile(opts.rejectFile) : undefined);
    this.log = opts.logger ?? defaultLogger;
    this.concurrency = Math.max(1, opts.concurrency ?? 2);
    this.flushDocs = Math.max(1, opts.flushDocs ?? 1000);
    this.flushBytes = opts.flushBytes ?? 5 * 1024 * 1024;
    this.flushIntervalMs = opts.flushIntervalMs ?? 1000;
    this.maxQueuedDocs = Math.max(this.flushDocs, opts.maxQueuedDocs ?? (this.concurrency + 1) * this.flushDocs);
    this.maxQueuedBytes = Math.max(this.flushBytes, opts.maxQueuedBytes ?? (this.concurrency + 1) * this.flushBytes);
    this.maxRetries = opts.maxRetries ?? 10;
    this.connTimeoutMs = opts.connectionRetryTimeoutMs ?? Infinity;
    this.backoffInitial = opts.backoffInitialMs ?? 100;
    this.backoffMax = opts.backoffMaxMs ?? 10_000;
    this.refresh = opts.refresh;
    this.secrets = opts.secrets ?? [];
    this.timer = setInterval(() => this.onTick(), Math.max(10, Math.min(this.flushIntervalMs, 1000)));
    // The timer alone must not keep the process alive; pending work does through its promises.
    this.timer.unref();
  }

  /**
   * Queues a document. Resolves once it is accepted into the bounded queue (awaits while the queue is
   * full: that is the backpressure); rejects if the indexer has failed or is closed. Delivery is
   * confirmed by a later flush().
   */
  push(d: BulkDoc): Promise<void> {
    if (this.closed) return Promise.reject(new IndexerError('indexer is closed'));
    if (this.failure) return Promise.reject(this.failure);
    if (this.isFull()) return this.pushWhenRoom(d);
    this.enqueue(d);
    // Not an async function: the common path allocates no promise.
    return RESOLVED;
  }

  private async pushWhenRoom(d: BulkDoc): Promise<void> {
    while (!this.failure && this.isFull()) {
      // Do not sit on a partial batch while waiting for room.
      this.cut();
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    }
    if (this.failure) throw this.failure;
    this.enqueue(d);
  }

  private enqueue(d: BulkDoc): void {
    const text = actionLine(d);
    const bytes = Buffer.byteLength(text);
    const e: Entry = { seq: ++this.seq, op: d.op ?? 'index', text, bytes };
    this.outstanding.add(e.seq);
    this.outstandingBytes += bytes;
    this.s.pushed++;
    if (this.pending.length === 0) this.pendingSince = Date.now();
    this.pending.push(e);
    this.pendingBytes += bytes;
    if (this.pending.length >= this.flushDocs || this.pendingBytes >= this.flushBytes) this.cut();
  }

  /** Resolves when every document pushed before this call is settled (indexed, duplicate or rejected). */
  flush(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const seq = this.seq;
    this.cut();
    if (this.settledUpTo(seq)) return Promise.resolve();
    return new Promise((resolve, reject) => this.flushWaiters.push({ seq, resolve, reject }));
  }

  /** Flushes, stops the timer and closes the reject sink. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      clearInterval(this.timer);
      await this.rejects?.close();
    }
  }

  stats(): IndexerStats {
    return { ...this.s, outstanding: this.outstanding.size };
  }

  private isFull(): boolean {
    return this.outstanding.size >= this.maxQueuedDocs || this.outstandingBytes >= this.maxQueuedBytes;
  }

  private settledUpTo(seq: number): boolean {
    const first = this.outstanding.values().next();
    return first.done === true || first.value > seq;
  }

  private onTick(): void {
    if (this.pending.length > 0 && Date.now() - this.pendingSince >= this.flushIntervalMs) this.cut();
  }

  /** Moves the pending documents into a batch and starts sending if a slot is free. */
  private cut(): void {
    if (this.pending.length > 0) {
      this.ready.push(this.pending);
      this.pending = [];
      this.pendingBytes = 0;
    }
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.concurrency && this.ready.length > 0 && !this.failure) {
      const batch = this.ready.shift()!;
      this.inFlight++;
      this.sendBatch(batch)
        .catch((e: unknown) => this.fail(e))
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }

  private msg(e: unknown): string {
    const m = e instanceof errors.ResponseError ? `HTTP ${e.statusCode ?? '?'}: ${JSON.stringify(e.body ?? e.message).slice(0, 500)}` : e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    let out = m;
    for (const s of this.secrets) if (s.length >= 4) out = out.split(s).join('***');
    return out;
  }

  private backoff(attempt: number): number {
    const cap = Math.min(this.backoffMax, this.backoffInitial * 2 ** Math.min(attempt, 20));
    // Full jitter, with a floor so a tight loop is impossible.
    return Math.max(this.backoffInitial / 2, Math.random() * cap);
  }

  /** Sends one batch until every entry is settled; retries whole-request and per-item failures. */
  private async sendBatch(batch: Entry[]): Promise<void> {
    let todo = batch;
    let attempt = 0;
    let connFailSince: number | undefined;
    while (todo.length > 0) {
      if (this.failure) return;
      const body = todo.length === 1 ? todo[0].text : todo.map((e) => e.text).join('');
      let items: BulkItemResult[];
      try {
        this.s.batches++;
        items = await this.bulk(body);
        for (const en of todo) this.s.bytes += en.bytes;
        if (connFailSince !== undefined) this.outageEnded();
        connFailSince = undefined;
      } catch (e) {
        if (isConnectionError(e)) {
          connFailSince ??= Date.now();
          this.outageStarted(e);
          if (Date.now() - connFailSince > this.connTimeoutMs) {
            throw new IndexerError(`Elasticsearch unreachable for ${Math.round((Date.now() - connFailSince) / 1000)} s, giving up: ${this.msg(e)}`);
          }
          this.s.retries++;
          // Connection errors back off to the cap and stay there, without counting against maxRetries.
          await sleep(this.backoff(Math.min(attempt++, 30)));
          continue;
        }
        const status = e instanceof errors.ResponseError ? e.statusCode : undefined;
        if (status === 413 && todo.length > 1) {
          // Request too large for http.max_content_length: split and send the halves.
          const half = Math.ceil(todo.length / 2);
          this.ready.unshift(todo.slice(half));
          todo = todo.slice(0, half);
          this.pump();
          continue;
        }
        if (isRetryableStatus(status) && attempt < this.maxRetries) {
          this.s.retries++;
          this.log.warn(`_bulk failed (${this.msg(e)}); retry ${attempt + 1}/${this.maxRetries}`);
          await sleep(this.backoff(attempt++));
          continue;
        }
        if (status === 401 || status === 403) throw new IndexerError(`Elasticsearch refused the credentials or privileges: ${this.msg(e)}`);
        if (isRetryableStatus(status)) throw new IndexerError(`_bulk still failing after ${this.maxRetries} retries: ${this.msg(e)}`);
        // Any other whole-request refusal (400 on a lone oversized document, 413 for one document...):
        // the documents go to the reject sink, the indexer carries on.
        await this.settle(todo.map((en) => [en, { status: status ?? 0, error: { type: 'bulk_request_rejected', reason: this.msg(e) } }]));
        return;
      }
      if (items.length !== todo.length) throw new IndexerError(`_bulk answered ${items.length} items for ${todo.length} documents`);
      const done: Array<[Entry, Outcome]> = [];
      const again: Entry[] = [];
      for (let i = 0; i < todo.length; i++) {
        const it = items[i];
        const en = todo[i];
        if (it.status < 300) done.push([en, 'indexed']);
        else if (it.status === 409 && en.op === 'create') done.push([en, 'duplicate']);
        else if (itemRetryable(it.status) && attempt < this.maxRetries) again.push(en);
        else done.push([en, { status: it.status, error: it.error ?? { reason: `status ${it.status}` } }]);
      }
      await this.settle(done);
      todo = again;
      if (todo.length > 0) {
        this.s.retries++;
        const ex = items.find((it) => itemRetryable(it.status));
        this.log.warn(`${todo.length} document(s) refused with ${ex?.status ?? '?'} (${ex?.error?.type ?? ''}); retry ${attempt + 1}/${this.maxRetries}`);
        await sleep(this.backoff(attempt++));
      }
    }
  }

  /** One _bulk call; only the per-item status and error come back (filter_path keeps responses small). */
  private async bulk(body: string): Promise<BulkItemResult[]> {
    const querystring: Record<string, string> = { filter_path: 'items.*.status,items.*.error' };
    if (this.refresh !== undefined) querystring.refresh = String(this.refresh);
    const res = (await this.client.transport.request({ method: 'POST', path: '/_bulk', querystring, bulkBody: body }, { maxRetries: 0 })) as {
      items?: Array<Record<string, BulkItemResult>>;
    };
    return (res.items ?? []).map((it) => {
      for (const k in it) return it[k];
      return { status: 0, error: { reason: 'empty bulk item' } };
    });
  }

  private async settle(done: Array<[Entry, Outcome]>): Promise<void> {
    if (done.length === 0) return;
    const rejected: RejectRecord[] = [];
    const time = new Date().toISOString();
    for (const [en, o] of done) {
      if (o === 'indexed') this.s.indexed++;
      else if (o === 'duplicate') this.s.duplicates++;
      else {
        this.s.rejected++;
        const { index, id, doc } = fromText(en);
        rejected.push({ time, index, id, op: en.op, status: o.status, error: o.error, doc });
      }
    }
    if (rejected.length > 0) {
      if (this.rejects) await this.rejects.write(rejected);
      else this.log.warn(`${rejected.length} document(s) rejected and dropped (no reject sink), e.g. ${this.msg(JSON.stringify(rejected[0].error))}`);
    }
    for (const [en] of done) {
      if (this.outstanding.delete(en.seq)) this.outstandingBytes -= en.bytes;
    }
    this.wake();
  }

  private wake(): void {
    while (this.spaceWaiters.length > 0 && (!this.isFull() || this.failure)) this.spaceWaiters.shift()!();
    for (let i = this.flushWaiters.length - 1; i >= 0; i--) {
      const w = this.flushWaiters[i];
      if (this.failure) w.reject(this.failure);
      else if (this.settledUpTo(w.seq)) w.resolve();
      else continue;
      this.flushWaiters.splice(i, 1);
    }
  }

  private fail(e: unknown): void {
    if (this.failure) return;
    this.failure = e instanceof IndexerError ? e : new IndexerError(this.msg(e));
    this.log.error(this.failure.message);
    this.wake();
  }

  private outageStarted(e: unknown): void {
    const now = Date.now();
    if (this.outageSince === undefined) {
      this.outageSince = now;
      this.outageLoggedAt = now;
      const limit = Number.isFinite(this.connTimeoutMs) ? `for up to ${Math.round(this.connTimeoutMs / 1000)} s` : 'until it is back';
      this.log.warn(`Elasticsearch unreachable (${this.msg(e)}); holding ${this.outstanding.size} document(s) and retrying ${limit}`);
    } else if (now - this.outageLoggedAt >= 15_000) {
      this.outageLoggedAt = now;
      this.log.warn(`Elasticsearch still unreachable after ${Math.round((now - this.outageSince) / 1000)} s (${this.msg(e)}); still retrying`);
    }
  }

  private outageEnded(): void {
    if (this.outageSince === undefined) return;
    this.log.info(`Elasticsearch reachable again after ${((Date.now() - this.outageSince) / 1000).toFixed(1)} s; resuming`);
    this.outageSince = undefined;
  }
}
