// The Elasticsearch sink against the REAL server of scripts/es.sh (HOPTRAIL_ES_URL). Tests run in order
// and share one index prefix per run; the last one restarts the server.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  BulkIndexer,
  connect,
  docIdFromProvenance,
  ensureIndexTemplates,
  familyPattern,
  indexFor,
  MemoryRejectSink,
  type BulkDoc,
  type EsConnection,
  type IndexFamily,
} from '../../sinks/elasticsearch/index.js';
import { ES_URL, esReachable, esScript, IN_CI, skipUnlessReachable } from './servers.js';
import { collectingLogger } from '../support/logger.js';

const reachable = await esReachable();
const skip = skipUnlessReachable(reachable, 'Elasticsearch', ES_URL);
const prefix = `hoptrail-it${Date.now().toString(36)}`;

const events: IndexFamily = {
  name: 'events',
  kind: 'timeseries',
  version: 1,
  mappings: {
    properties: {
      '@timestamp': { type: 'date_nanos' },
      host: { properties: { name: { type: 'keyword' } } },
      winlog: { properties: { channel: { type: 'keyword' }, record_id: { type: 'long' } } },
      message: { type: 'text' },
    },
  },
};
const sessions: IndexFamily = {
  name: 'sessions',
  kind: 'entity',
  version: 1,
  mappings: { properties: { user: { type: 'keyword' }, commands: { type: 'long' }, dest: { type: 'keyword' } } },
};

const quiet = collectingLogger();

function makeEvents(n: number, from = 0): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (let i = from; i < from + n; i++) {
    out.push({
      // Three days, so three daily indices (or one data stream).
      '@timestamp': new Date(Date.UTC(2024, 2, 1 + (i % 3), 10, 0, 0, i % 1000)).toISOString(),
      host: { name: `WS${i % 7}.corp.local` },
      winlog: { channel: 'Microsoft-Windows-WinRM/Operational', record_id: i },
      message: `event ${i} Invoke-Command -ComputerName srv${i % 5}`,
    });
  }
  return out;
}

function toDoc(conn: EsConnection, ev: Record<string, unknown>): BulkDoc {
  const w = ev.winlog as { channel: string; record_id: number | string };
  const host = (ev.host as { name: string }).name;
  const index = indexFor(events, { features: conn.features, prefix }, ev['@timestamp'] as string);
  return {
    index,
    id: docIdFromProvenance({ host, channel: w.channel, recordId: w.record_id }),
    doc: ev,
    // Data streams accept only create; create is also the cheapest idempotent op.
    op: 'create',
  };
}

async function count(conn: EsConnection, pattern: string): Promise<number> {
  await conn.client.indices.refresh({ index: pattern, expand_wildcards: 'all', ignore_unavailable: true, allow_no_indices: true });
  const r = await conn.client.count({ index: pattern, expand_wildcards: 'all', ignore_unavailable: true, allow_no_indices: true });
  return r.count;
}

async function indexAll(conn: EsConnection, docs: BulkDoc[], opts: Partial<ConstructorParameters<typeof BulkIndexer>[0]> = {}): Promise<BulkIndexer> {
  const ix = new BulkIndexer({ client: conn.client, concurrency: 2, flushDocs: 500, logger: quiet, secrets: conn.secrets, ...opts });
  for (const d of docs) await ix.push(d);
  await ix.close();
  return ix;
}

describe('elasticsearch sink (real server)', { skip }, () => {
  let conn: EsConnection;
  let dir: string;

  before(async () => {
    if (!reachable) return;
    conn = await connect({ url: ES_URL });
    dir = mkdtempSync(join(tmpdir(), 'hoptrail-es-'));
  });

  after(async () => {
    if (!conn) return;
    // Daily indices and entity indices; a data stream (full clusters only) has its own API.
    if (conn.features.dataStreams) await conn.client.indices.deleteDataStream({ name: `${prefix}-*` }).catch(() => undefined);
    await conn.client.indices.delete({ index: `${prefix}-*`, expand_wildcards: 'all', ignore_unavailable: true }).catch(() => undefined);
    await conn.client.indices.deleteIndexTemplate({ name: `${prefix}-*` }).catch(() => undefined);
    await conn.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('server reachable', () => {
    assert.ok(reachable, `Elasticsearch not reachable at ${ES_URL} (CI=${String(IN_CI)}): run scripts/services.sh up`);
  });

  test('feature detection and templates', async () => {
    assert.ok(conn.features.composableTemplates, 'composable templates are in every 8.x server');
    // The minimal distribution lacks the data-stream module: the sink must not think otherwise.
    if (conn.features.modules && !conn.features.modules.includes('data-streams')) assert.equal(conn.features.dataStreams, false);
    const first = await ensureIndexTemplates(conn.client, [events, sessions], { prefix, features: conn.features, replicas: 0 });
    assert.deepEqual(first.map((r) => r.action), ['created', 'created']);
    const again = await ensureIndexTemplates(conn.client, [events, sessions], { prefix, features: conn.features, replicas: 0 });
    assert.deepEqual(again.map((r) => r.action), ['unchanged', 'unchanged']);
  });

  const N = 3000;
  test(`bulk-index ${N} documents and count them`, async () => {
    const ix = await indexAll(conn, makeEvents(N).map((e) => toDoc(conn, e)));
    assert.equal(ix.stats().indexed, N);
    assert.equal(ix.stats().rejected, 0);
    assert.equal(await count(conn, familyPattern(events, prefix)), N);
  });

  test('a second run adds no document (idempotent ids)', async () => {
    const again = await indexAll(conn, makeEvents(N).map((e) => toDoc(conn, e)));
    assert.equal(again.stats().duplicates, N);
    assert.equal(again.stats().indexed, 0);
    // op index overwrites in place: still no new document.
    if (!conn.features.dataStreams) {
      const overwrite = await indexAll(conn, makeEvents(N).map((e) => ({ ...toDoc(conn, e), op: 'index' as const })));
      assert.equal(overwrite.stats().indexed, N);
    }
    assert.equal(await count(conn, familyPattern(events, prefix)), N);
  });

  test('a document with a mapping conflict is rejected alone, with its reason, in the reject file', async () => {
    const evs = makeEvents(100, N);
    const bad = evs[42] as { winlog: { record_id: unknown } };
    bad.winlog = { ...(bad.winlog as object), record_id: 'not-a-number' } as { record_id: unknown };
    const docs = evs.map((e) => toDoc(conn, e));
    const rejectFile = join(dir, 'rejects.jsonl');
    const ix = await indexAll(conn, docs, { rejectFile });
    assert.equal(ix.stats().rejected, 1);
    assert.equal(ix.stats().indexed, 99);
    const lines = readFileSync(rejectFile, 'utf8').trim().split('\n');
    assert.equal(lines.length, 1);
    const rec = JSON.parse(lines[0]) as { id: string; status: number; error: { type: string; reason: string }; doc: unknown };
    assert.equal(rec.id, docs[42].id);
    assert.equal(rec.status, 400);
    assert.match(rec.error.type, /parsing_exception/);
    assert.match(rec.error.reason, /record_id/);
    assert.deepEqual(rec.doc, evs[42]);
    assert.equal(await count(conn, familyPattern(events, prefix)), N + 99);
  });

  test('update-upsert merges partial documents', async () => {
    const index = indexFor(sessions, { features: conn.features, prefix });
    const rejects = new MemoryRejectSink();
    const ix = new BulkIndexer({ client: conn.client, rejects, logger: quiet, flushDocs: 1 });
    await ix.push({ index, id: 's1', op: 'update-upsert', doc: { user: 'CORP\\alice', commands: 1 } });
    await ix.flush();
    await ix.push({ index, id: 's1', op: 'update-upsert', doc: { commands: 2, dest: 'srv1' } });
    await ix.close();
    assert.equal(rejects.records.length, 0);
    const got = await conn.client.get<Record<string, unknown>>({ index, id: 's1' });
    assert.deepEqual(got._source, { user: 'CORP\\alice', commands: 2, dest: 'srv1' });
  });

  test('stopping the server in mid-indexing and starting it again loses nothing', { timeout: 300_000 }, async (t) => {
    const status = await esScript('status').catch((e: { stdout?: string }) => String(e.stdout ?? e));
    assert.match(status, /running/, `the server at ${ES_URL} is not managed by scripts/es.sh: ${status}`);
    const before = await count(conn, familyPattern(events, prefix));
    const ix = new BulkIndexer({ client: conn.client, concurrency: 2, flushDocs: 250, logger: quiet, backoffMaxMs: 1000, maxQueuedDocs: 2000 });
    let restarted: Promise<void> | undefined;
    // Keep a steady flow (~5000 docs/s) until the server is back, then 2000 more on the new node.
    let pushed = 0;
    let stopAt = Infinity;
    while (pushed < stopAt) {
      const [ev] = makeEvents(1, 100_000 + pushed);
      await ix.push(toDoc(conn, ev));
      pushed++;
      if (pushed % 100 === 0) await new Promise((r) => setTimeout(r, 20));
      if (pushed === 3000) {
        // Not awaited: pushes go on (and block on the bounded queue) while the server is down.
        restarted = (async () => {
          await esScript('stop');
          await new Promise((r) => setTimeout(r, 1000));
          await esScript('start');
          stopAt = pushed + 2000;
        })();
      }
    }
    const M = pushed;
    await ix.close();
    await restarted;
    const s = ix.stats();
    t.diagnostic(`pushed ${M}, stats ${JSON.stringify(s)}`);
    for (const l of quiet.lines.filter((x) => /reachable/.test(x))) t.diagnostic(l);
    assert.equal(s.rejected, 0);
    assert.equal(s.pushed, M);
    assert.equal(s.indexed + s.duplicates, M);
    assert.ok(s.retries > 0, 'the indexer should have seen the outage');
    assert.ok(quiet.lines.some((l) => /unreachable/.test(l)), 'the outage is logged');
    assert.equal(await count(conn, familyPattern(events, prefix)), before + M);
  });
});
