// The sink's pure parts, and the indexer's retry/backpressure logic against a scripted fake _bulk endpoint
// (the behaviour against the real server is in test/integration).
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import {
  buildTemplate,
  BulkIndexer,
  createClient,
  periodSuffix,
  describeConnection,
  docIdFromProvenance,
  indexFor,
  MemoryRejectSink,
  redact,
  resolveConnection,
  secretsOf,
  templateName,
} from '../../sinks/elasticsearch/index.js';
import { collectingLogger } from '../support/logger.js';

const silent = collectingLogger();

test('docIdFromProvenance: stable, case-insensitive host/channel, base64url sha1', () => {
  const a = docIdFromProvenance({ host: 'WS1.corp.local', channel: 'Security', recordId: 42 });
  const b = docIdFromProvenance({ host: 'ws1.CORP.local ', channel: 'security', recordId: 42n });
  assert.equal(a, b);
  assert.match(a, /^[A-Za-z0-9_-]{27}$/);
  assert.notEqual(a, docIdFromProvenance({ host: 'WS1.corp.local', channel: 'Security', recordId: 43 }));
  assert.notEqual(a, docIdFromProvenance({ host: 'WS1.corp.local', channel: 'Security', recordId: 42 }, 'findings'));
  const k = docIdFromProvenance({ topic: 'winlog', partition: 3, offset: '1000' });
  assert.equal(k, docIdFromProvenance({ topic: 'winlog', partition: 3, offset: 1000 }));
  assert.notEqual(k, docIdFromProvenance({ topic: 'winlog', partition: 30, offset: 100 }));
});

test('resolveConnection: env, options win, credentials out of the URL, TLS verify on by default', () => {
  const env = { HOPTRAIL_ES_URL: 'https://bob:s3cr%40t@es.example:9243/', HOPTRAIL_ES_CA_FILE: '/etc/ca.pem' };
  const c = resolveConnection({}, env);
  assert.equal(c.url, 'https://es.example:9243');
  assert.deepEqual(c.auth, { kind: 'basic', username: 'bob', password: 's3cr@t' });
  assert.equal(c.tlsVerify, true);
  assert.equal(c.caFile, '/etc/ca.pem');
  const d = describeConnection(c);
  assert.ok(!d.includes('s3cr'), d);
  const k = resolveConnection({ apiKey: 'QUJDOkRFRg==' }, { ...env, HOPTRAIL_ES_TLS_VERIFY: 'false' });
  assert.deepEqual(k.auth, { kind: 'apiKey', apiKey: 'QUJDOkRFRg==' });
  assert.equal(k.tlsVerify, false);
  assert.equal(resolveConnection({}, {}).url, 'http://127.0.0.1:9200');
  assert.throws(() => resolveConnection({ username: 'x' }, {}), /both/);
  assert.throws(() => resolveConnection({ url: 'not a url with secret' }, {}), (e: Error) => !e.message.includes('secret'));
  const masked = redact(`auth Basic ${Buffer.from('bob:s3cr@t').toString('base64')} pw s3cr@t`, secretsOf(c));
  assert.ok(!masked.includes('s3cr@t') && !masked.includes(Buffer.from('bob:s3cr@t').toString('base64')), masked);
});

test('templates: versioned names, patterns per kind, dynamic false, daily targets', () => {
  const fam = { name: 'events', kind: 'timeseries' as const, version: 3, mappings: { properties: { a: { type: 'keyword' } } } };
  const noDs = { features: { dataStreams: false, composableTemplates: true } };
  const ds = { features: { dataStreams: true, composableTemplates: true } };
  assert.equal(templateName(fam), 'hoptrail-events-v3');
  const t = buildTemplate(fam, { ...noDs, replicas: 0 }) as { index_patterns: string[]; priority: number; template: { mappings: { dynamic: unknown }; settings: Record<string, unknown> }; data_stream?: unknown };
  assert.deepEqual(t.index_patterns, ['hoptrail-events-*']);
  assert.equal(t.priority, 103);
  assert.equal(t.template.mappings.dynamic, false);
  assert.equal(t.template.settings.number_of_replicas, 0);
  assert.equal(t.data_stream, undefined);
  const tds = buildTemplate(fam, ds) as { index_patterns: string[]; data_stream?: unknown };
  assert.deepEqual(tds.index_patterns, ['hoptrail-events']);
  assert.deepEqual(tds.data_stream, {});
  assert.equal(indexFor(fam, noDs, '2024-03-01T23:59:59.999999Z'), 'hoptrail-events-2024.03.01');
  assert.equal(indexFor(fam, ds, '2024-03-01T00:00:00Z'), 'hoptrail-events');
  assert.equal(indexFor({ name: 'sessions', kind: 'entity', version: 2 }, noDs), 'hoptrail-sessions-v2');
  assert.equal(periodSuffix(Date.UTC(2024, 0, 5)), '2024.01.05');
  // Monthly and yearly indices, for years of evidence on a cluster without data streams; the template's
  // pattern takes them, and data streams ignore the period.
  assert.equal(indexFor(fam, { ...noDs, period: 'month' }, '2024-03-01T23:59:59.999999Z'), 'hoptrail-events-2024.03');
  assert.equal(indexFor(fam, { ...noDs, period: 'year' }, '0999-12-31T23:59:59.999Z'), 'hoptrail-events-0999');
  assert.equal(indexFor(fam, { ...ds, period: 'year' }, '2024-03-01T00:00:00Z'), 'hoptrail-events');
  assert.match('hoptrail-events-2024.03', new RegExp(`^${t.index_patterns[0].replace('*', '.*')}$`));
  assert.throws(() => buildTemplate({ ...fam, name: 'Bad*' }, noDs), /lower case/);
});

/** A fake cluster: `handle` decides each _bulk's per-item statuses. */
async function fakeEs(handle: (lines: string[], call: number) => { status?: number; items?: number[]; delayMs?: number }) {
  let calls = 0;
  const seen: string[][] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const lines = body.split('\n').filter((l) => l !== '');
      const actions = lines.filter((_, i) => i % 2 === 0);
      seen.push(actions);
      const r = handle(actions, calls++);
      const send = (): void => {
        res.setHeader('x-elastic-product', 'Elasticsearch');
        res.setHeader('content-type', 'application/json');
        if (r.status && r.status !== 200) {
          res.statusCode = r.status;
          res.end(JSON.stringify({ error: { type: 'x', reason: 'scripted' }, status: r.status }));
          return;
        }
        const items = actions.map((_, i) => {
          const st = r.items?.[i] ?? 201;
          return { index: st < 300 ? { status: st } : { status: st, error: { type: st === 429 ? 'es_rejected_execution_exception' : 'document_parsing_exception', reason: 'scripted' } } };
        });
        res.end(JSON.stringify({ items }));
      };
      if (r.delayMs) setTimeout(send, r.delayMs);
      else send();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = createClient(resolveConnection({ url }, {}));
  return {
    client,
    seen,
    calls: () => calls,
    close: async () => {
      await client.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

test('indexer: per-item 429 retried, 400 rejected alone, 503 waited through', async () => {
  const es = await fakeEs((actions, call) => {
    if (call === 0) return { status: 503 };
    if (call === 1) return { items: actions.map((_, i) => (i === 1 ? 429 : i === 2 ? 400 : 201)) };
    return {};
  });
  const rejects = new MemoryRejectSink();
  const ix = new BulkIndexer({ client: es.client, rejects, logger: silent, flushDocs: 4, backoffInitialMs: 5, backoffMaxMs: 20 });
  for (let i = 0; i < 4; i++) await ix.push({ index: 'x', id: `d${i}`, doc: { i } });
  await ix.close();
  assert.equal(es.calls(), 3);
  assert.equal(es.seen[2].length, 1, 'only the 429 item is sent again');
  assert.match(es.seen[2][0], /"d1"/);
  assert.deepEqual(rejects.records.map((r) => [r.id, r.status]), [['d2', 400]]);
  assert.deepEqual({ ...ix.stats(), bytes: 0 }, { pushed: 4, indexed: 3, duplicates: 0, rejected: 1, retries: 2, batches: 3, bytes: 0, outstanding: 0 });
  await es.close();
});

test('indexer: create 409 counts as duplicate; 401 is fatal', async () => {
  const es = await fakeEs((actions, call) => (call === 0 ? { items: actions.map(() => 409) } : { status: 401 }));
  const ix = new BulkIndexer({ client: es.client, logger: silent, flushDocs: 2 });
  await ix.push({ index: 'x', id: 'a', doc: {}, op: 'create' });
  await ix.push({ index: 'x', id: 'b', doc: {}, op: 'create' });
  await ix.flush();
  assert.equal(ix.stats().duplicates, 2);
  await ix.push({ index: 'x', id: 'c', doc: {} });
  await assert.rejects(ix.flush(), /credentials/);
  await assert.rejects(ix.push({ index: 'x', id: 'd', doc: {} }), /credentials/);
  await es.close();
});

test('indexer: push awaits when the queue is full (backpressure), concurrency is bounded', async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const es = await fakeEs(() => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    setTimeout(() => inFlight--, 50);
    return { delayMs: 50 };
  });
  const ix = new BulkIndexer({ client: es.client, logger: silent, flushDocs: 10, concurrency: 2, maxQueuedDocs: 30 });
  let maxOutstanding = 0;
  for (let i = 0; i < 200; i++) {
    await ix.push({ index: 'x', id: `d${i}`, doc: { i } });
    maxOutstanding = Math.max(maxOutstanding, ix.stats().outstanding);
  }
  await ix.close();
  assert.ok(maxOutstanding <= 30, `outstanding reached ${maxOutstanding}`);
  assert.ok(maxInFlight <= 2, `in flight reached ${maxInFlight}`);
  assert.equal(ix.stats().indexed, 200);
  await es.close();
});

test('indexer: time-based flush sends a partial batch', async () => {
  const es = await fakeEs(() => ({}));
  const ix = new BulkIndexer({ client: es.client, logger: silent, flushDocs: 1000, flushIntervalMs: 50 });
  await ix.push({ index: 'x', id: 'a', doc: {} });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(es.calls(), 1);
  assert.equal(ix.stats().indexed, 1);
  await ix.close();
  await es.close();
});
