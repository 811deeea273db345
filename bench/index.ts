// bench/index: documents/s of the sink's BulkIndexer against a plain `_bulk` loop sending the same
// documents, in the same batch size, with the same concurrency, to the real server (HOPTRAIL_ES_URL).
// Usage: npm run bench:index [-- --docs N --concurrency C --batch B --runs R]   (defaults 200000, 2, 1000, 5)
// The plain loop is a strict baseline: pre-built NDJSON strings per batch would flatter it, so both
// serialise per batch; the plain loop asks only for `errors` back (the least a caller can check), the
// indexer for per-item status and error. Prints both rates (median of R runs) and the median per-run ratio.
import { errors, type Client } from '@elastic/elasticsearch';
import { BulkIndexer, connect, docIdFromProvenance, type BulkDoc } from '../sinks/elasticsearch/index.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

const DOCS = arg('docs', 200_000);
const CONC = arg('concurrency', 2);
const BATCH = arg('batch', 1000);
const RUNS = arg('runs', 5);
const URL_ = process.env.HOPTRAIL_ES_URL ?? 'http://127.0.0.1:9200';
const PREFIX = 'hoptrail-bench';

/** A WinRM-flavoured event of ~450 bytes, like a normalized 4688/91/4104 record. */
function makeDocs(n: number, index: string): BulkDoc[] {
  const out: BulkDoc[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const host = `WS${i % 50}.corp.local`;
    const channel = 'Microsoft-Windows-WinRM/Operational';
    out[i] = {
      index,
      id: docIdFromProvenance({ host, channel, recordId: i }),
      op: 'index',
      doc: {
        '@timestamp': new Date(Date.UTC(2024, 2, 1, 0, 0, 0) + i * 37).toISOString(),
        event: { code: String([91, 4688, 4104, 4624][i % 4]), kind: 'event', category: ['process'] },
        host: { name: host },
        user: { name: `alice${i % 13}`, domain: 'CORP' },
        source: { ip: `10.0.${i % 250}.${(i * 7) % 250}` },
        winlog: { channel, record_id: i, computer_name: host, event_data: { ShellId: `S-${i % 997}`, ResourceUri: 'http://schemas.microsoft.com/powershell/Microsoft.PowerShell' } },
        process: { command_line: `powershell.exe -NoP -c Invoke-Command -ComputerName srv${i % 17} -ScriptBlock { Get-Process }` },
      },
    };
  }
  return out;
}

async function resetIndex(client: Client, index: string): Promise<void> {
  await client.indices.delete({ index, ignore_unavailable: true });
  await client.indices.create({
    index,
    settings: { number_of_shards: 1, number_of_replicas: 0 },
    mappings: {
      dynamic: false,
      properties: {
        '@timestamp': { type: 'date' },
        host: { properties: { name: { type: 'keyword' } } },
        user: { properties: { name: { type: 'keyword' }, domain: { type: 'keyword' } } },
        source: { properties: { ip: { type: 'ip' } } },
        event: { properties: { code: { type: 'keyword' } } },
        winlog: { properties: { record_id: { type: 'long' }, channel: { type: 'keyword' } } },
        process: { properties: { command_line: { type: 'text' } } },
      },
    },
  });
}

async function plainBulk(client: Client, docs: BulkDoc[]): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < docs.length) {
      const from = next;
      next = Math.min(docs.length, next + BATCH);
      let body = '';
      for (let i = from; i < next; i++) {
        const d = docs[i];
        body += `{"index":{"_index":${JSON.stringify(d.index)},"_id":${JSON.stringify(d.id)}}}\n${JSON.stringify(d.doc)}\n`;
      }
      const r = (await client.transport.request({ method: 'POST', path: '/_bulk', querystring: { filter_path: 'errors' }, bulkBody: body })) as { errors: boolean };
      if (r.errors) throw new Error('plain _bulk reported item errors');
    }
  };
  await Promise.all(Array.from({ length: CONC }, worker));
}

let indexerRetries = 0;

async function indexer(client: Client, docs: BulkDoc[]): Promise<void> {
  const ix = new BulkIndexer({ client, concurrency: CONC, flushDocs: BATCH, flushBytes: 64 * 1024 * 1024 });
  for (const d of docs) await ix.push(d);
  await ix.close();
  const s = ix.stats();
  if (s.indexed !== docs.length) throw new Error(`indexer indexed ${s.indexed} of ${docs.length}`);
  indexerRetries += s.retries;
}

/** Client CPU per document (µs), summed per side: robust to load elsewhere, unlike the wall-clock rate. */
const cpuUs = { plain: 0, indexer: 0 };

async function timed(client: Client, index: string, docs: BulkDoc[], fn: (c: Client, d: BulkDoc[]) => Promise<void>): Promise<number> {
  await resetIndex(client, index);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await fn(client, docs);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  cpuUs[fn === plainBulk ? 'plain' : 'indexer'] += c.user + c.system;
  return docs.length / s;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  let conn;
  try {
    conn = await connect({ url: URL_ });
  } catch (e) {
    const why = e instanceof errors.ConnectionError ? 'not reachable' : String(e);
    console.log(`bench/index: Elasticsearch ${why} at ${URL_}; start it with scripts/es.sh start`);
    process.exitCode = 1;
    return;
  }
  const { client } = conn;
  const idxPlain = `${PREFIX}-plain`;
  const idxSink = `${PREFIX}-indexer`;
  const docsPlain = makeDocs(DOCS, idxPlain);
  const docsSink = makeDocs(DOCS, idxSink);
  console.log(`bench/index: ${DOCS} docs (~${Math.round(JSON.stringify(docsSink[0].doc).length)} B), batch ${BATCH}, concurrency ${CONC}, ${RUNS} runs, server ${conn.description}`);
  // Warm-up: JIT on both sides, and the server's first index creation.
  await timed(client, idxPlain, docsPlain.slice(0, 20_000), plainBulk);
  await timed(client, idxSink, docsSink.slice(0, 20_000), indexer);
  const plain: number[] = [];
  const sink: number[] = [];
  cpuUs.plain = cpuUs.indexer = 0;
  const ratios: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    // Pairs in alternating order, and the ratio taken per pair: load from elsewhere on this small machine
    // (and the server's own merges) drifts over a run, and then hits both sides of a pair alike.
    if (r % 2 === 0) {
      plain.push(await timed(client, idxPlain, docsPlain, plainBulk));
      sink.push(await timed(client, idxSink, docsSink, indexer));
    } else {
      sink.push(await timed(client, idxSink, docsSink, indexer));
      plain.push(await timed(client, idxPlain, docsPlain, plainBulk));
    }
    ratios.push(sink[r] / plain[r]);
    console.log(`  run ${r + 1}: plain _bulk ${Math.round(plain[r])} docs/s, indexer ${Math.round(sink[r])} docs/s, ratio ${ratios[r].toFixed(3)}`);
  }
  const p = median(plain);
  const s = median(sink);
  console.log(`plain _bulk: ${Math.round(p)} docs/s (median of ${RUNS})`);
  console.log(`indexer:     ${Math.round(s)} docs/s (median of ${RUNS})`);
  const perDoc = (us: number): string => (us / (RUNS * DOCS)).toFixed(2);
  console.log(`client CPU per document: plain ${perDoc(cpuUs.plain)} µs, indexer ${perDoc(cpuUs.indexer)} µs`);
  console.log(`indexer retries (429/5xx/connection): ${indexerRetries}`);
  console.log(`ratio indexer/plain: ${median(ratios).toFixed(3)} (median of per-run ratios; target >= 0.8)`);
  await client.indices.delete({ index: `${PREFIX}-*`, ignore_unavailable: true });
  await conn.close();
}

await main();
