// `hoptrail hunt --es` against the REAL server of scripts/es.sh: document counts equal the local outputs,
// a re-run adds nothing, a mapping conflict is refused alone with its reason, hunters' queries find what
// they should. Another test file restarts the server; this one waits for cluster health before each step.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { Client } from '@elastic/elasticsearch';
import type { NormalizedEvent } from '../../schemas/event.js';
import type { Session } from '../../detectors/session.js';
import { HoptrailEsSink, MemoryRejectSink, type IndexerLogger } from '../../sinks/elasticsearch/index.js';
import { REPO_ROOT, SKIP_NO_SHARED, sharedPath } from '../support/shared.js';
import { ES_URL, esReachable, esScript, IN_CI, skipUnlessReachable } from './servers.js';

const run = promisify(execFile);
const BIN = join(REPO_ROOT, 'bin', 'hoptrail.js');

/** Healthy (yellow or green) within `ms`; polls through a restart by the other ES test file. */
async function waitForHealth(ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      const r = await fetch(new URL('/_cluster/health?wait_for_status=yellow&timeout=5s', ES_URL), { signal: AbortSignal.timeout(8000) });
      if (r.status === 200) return true;
    } catch {
      // down or restarting
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

async function serverUp(): Promise<boolean> {
  if (await esReachable()) return true;
  // Managed by es.sh and perhaps mid-restart: worth waiting for.
  const status = await esScript('status').catch(() => '');
  return /running/.test(status) || IN_CI ? waitForHealth(120_000) : false;
}

const reachable = await serverUp();
const skip = skipUnlessReachable(reachable, 'Elasticsearch', ES_URL) || SKIP_NO_SHARED;
const prefix = `hoptrail-ht${Date.now().toString(36)}`;

const quiet: IndexerLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

function ndjson<T>(path: string): T[] {
  const text = readFileSync(path, 'utf8').trim();
  return text === '' ? [] : text.split('\n').map((l) => JSON.parse(l) as T);
}

describe('hunt --es (real server)', { skip, timeout: 240_000 }, () => {
  let client: Client;
  let dir: string;
  const out = (): string => join(dir, 'out');

  /** Reads that survive the other file's restart of the server. */
  async function retrying<T>(f: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await f();
      } catch (e) {
        if (i >= 20) throw e;
        await waitForHealth(60_000);
      }
    }
  }

  async function count(family: string): Promise<number> {
    return retrying(async () => {
      const index = `${prefix}-${family}-*`;
      await client.indices.refresh({ index, ignore_unavailable: true, allow_no_indices: true });
      return (await client.count({ index, ignore_unavailable: true, allow_no_indices: true })).count;
    });
  }

  async function ids(family: string, query: Record<string, unknown>): Promise<string[]> {
    return retrying(async () => {
      const r = await client.search({ index: `${prefix}-${family}-*`, query, size: 1000, _source: false });
      return r.hits.hits.map((h) => h._id ?? '').sort();
    });
  }

  async function hunt(): Promise<string> {
    assert.ok(await waitForHealth(120_000), 'cluster healthy before the hunt');
    const { stdout } = await run(process.execPath, [BIN, 'hunt', sharedPath('datasets'), '--out', out(), '--es', ES_URL, '--es-prefix', prefix, '--es-replicas', '0'], {
      maxBuffer: 1 << 26,
      timeout: 180_000,
    });
    return stdout;
  }

  before(() => {
    client = new Client({ node: ES_URL, requestTimeout: 30_000 });
    dir = mkdtempSync(join(tmpdir(), 'hoptrail-hunt-es-'));
  });

  after(async () => {
    await client.indices.delete({ index: `${prefix}-*`, expand_wildcards: 'all', ignore_unavailable: true }).catch(() => undefined);
    await client.indices.deleteIndexTemplate({ name: `${prefix}-*` }).catch(() => undefined);
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('server reachable', () => {
    assert.ok(reachable, `Elasticsearch not reachable at ${ES_URL}: run scripts/services.sh up`);
  });

  test('a hunt of the datasets gives the same document counts as the local outputs', async (t) => {
    const stdout = await hunt();
    const summary = stdout.split('\n').find((l) => l.startsWith('elasticsearch:'));
    t.diagnostic(summary ?? 'no summary line');
    assert.match(summary ?? '', / 0 rejected/);
    const local = {
      events: ndjson(join(out(), 'events.ndjson')).length,
      sessions: ndjson(join(out(), 'sessions.ndjson')).length,
      hops: ndjson(join(out(), 'hops.ndjson')).length,
      findings: ndjson(join(out(), 'findings.ndjson')).length,
    };
    assert.ok(local.events > 10_000 && local.sessions > 0 && local.findings > 0, JSON.stringify(local));
    const remote = { events: await count('events'), sessions: await count('sessions'), hops: await count('hops'), findings: await count('findings') };
    t.diagnostic(`local ${JSON.stringify(local)}, elasticsearch ${JSON.stringify(remote)}`);
    assert.deepEqual(remote, local);
  });

  test('a second run adds no document', async () => {
    const before = { events: await count('events'), sessions: await count('sessions'), hops: await count('hops'), findings: await count('findings') };
    const stdout = await hunt();
    const summary = stdout.split('\n').find((l) => l.startsWith('elasticsearch:')) ?? '';
    // Events are created once: all of them are already there.
    assert.match(summary, new RegExp(` ${before.events} already there`), summary);
    const again = { events: await count('events'), sessions: await count('sessions'), hops: await count('hops'), findings: await count('findings') };
    assert.deepEqual(again, before);
  });

  test('an event with a mapping conflict is refused alone, with its reason', async () => {
    const events = ndjson<NormalizedEvent>(join(out(), 'events.ndjson')).slice(0, 20);
    // New identities (another host), so these are new documents and not duplicates of the hunt's.
    for (const e of events) e.host = { name: 'conflict.example', hostname: 'conflict' };
    const bad = events[7] as unknown as { source?: Record<string, unknown> };
    bad.source = { ...bad.source, port: 'not-a-port' };
    const rejects = new MemoryRejectSink();
    const sink = new HoptrailEsSink({ connection: { url: ES_URL }, prefix, rejects, logger: quiet, replicas: 0, openTimeoutMs: 120_000 });
    await sink.open();
    for (const e of events) await sink.event(e);
    const s = await sink.close();
    assert.equal(s.events.sent, 20);
    assert.equal(s.events.rejected, 1);
    assert.equal(s.indexer.indexed, 19);
    assert.equal(rejects.records.length, 1);
    const r = rejects.records[0] as { status: number; error: { type: string; reason: string }; doc: unknown };
    assert.equal(r.status, 400);
    assert.match(r.error.type, /parsing_exception/);
    assert.match(r.error.reason, /source\.port/);
    assert.deepEqual(r.doc, events[7]);
    assert.equal((await ids('events', { term: { 'host.name': 'conflict.example' } })).length, 19);
  });

  test("a hunter's queries: sessions by user, hops into a host, commands containing a string", async () => {
    const sessions = ndjson<Session>(join(out(), 'sessions.ndjson'));
    const events = ndjson<NormalizedEvent>(join(out(), 'events.ndjson'));

    const byUser = sessions.filter((s) => s.user.name === 'pgustavo' && s.user.domain === 'THESHIRE.LOCAL').map((s) => s.session_id);
    assert.equal(byUser.length, 1);
    assert.deepEqual(await ids('sessions', { bool: { filter: [{ term: { 'user.name': 'pgustavo' } }, { term: { 'user.domain': 'THESHIRE.LOCAL' } }] } }), byUser);
    assert.equal((await ids('sessions', { term: { 'user.name': 'pgustavo' } })).length, sessions.filter((s) => s.user.name === 'pgustavo').length);

    const into = await retrying(() => client.search<{ source: string; session_id: string; kind?: string; auth?: string }>({ index: `${prefix}-hops-*`, query: { term: { destination: 'dc01.mssentinel.local' } } }));
    const hits = into.hits.hits.map((h) => h._source!);
    assert.equal(hits.length, 1);
    assert.equal(hits[0].source, 'workstation6.mssentinel.local');
    const sess = sessions.find((s) => s.session_id === hits[0].session_id)!;
    // The hop carries its session's kind and authentication (for the hop table).
    assert.equal(hits[0].kind, sess.kind);
    assert.equal(hits[0].auth, sess.auth);

    // Words in command text (analysed text), in sessions and in events.
    const phrase = 'PSRemoting Fall2022';
    const wantSessions = sessions.filter((s) => s.commands.some((c) => c.text.includes(phrase))).map((s) => s.session_id).sort();
    assert.equal(wantSessions.length, 1);
    assert.deepEqual(await ids('sessions', { match_phrase: { 'commands.text': phrase } }), wantSessions);
    const wantEvents = events.filter((e) => e.process?.command_line?.includes(phrase)).length;
    assert.ok(wantEvents > 0);
    assert.equal((await ids('events', { bool: { filter: [{ match_phrase: { 'process.command_line': phrase } }], must_not: [{ term: { 'host.name': 'conflict.example' } }] } })).length, wantEvents);
    // A substring, case-insensitive, on the exact value (keyword subfield).
    const wantSub = events.filter((e) => /net1 user/i.test(e.process?.command_line ?? '')).length;
    assert.ok(wantSub > 0);
    assert.equal(
      (await ids('events', { bool: { filter: [{ wildcard: { 'process.command_line.keyword': { value: '*NET1 USER*', case_insensitive: true } } }], must_not: [{ term: { 'host.name': 'conflict.example' } }] } })).length,
      wantSub,
    );
  });

  test('damaged and unusual logs (corpus/robustness), by month: every event indexed, none refused', async (t) => {
    // Last: its events join the index the tests above counted. A damaged Shell-Core log gives event data
    // names with NUL in them, which a flattened field refused along with the whole document. Its events span
    // years: one index per month of them (this server has no data streams) rather than one per day.
    assert.ok(await waitForHealth(120_000), 'cluster healthy before the hunt');
    const robust = join(dir, 'robust');
    const { stdout } = await run(process.execPath, [BIN, 'hunt', sharedPath('corpus', 'robustness'), '--out', robust, '--es', ES_URL, '--es-prefix', prefix, '--es-replicas', '0', '--es-index-period', 'month'], {
      maxBuffer: 1 << 26,
      timeout: 180_000,
    });
    const summary = stdout.split('\n').find((l) => l.startsWith('elasticsearch:')) ?? '';
    t.diagnostic(summary);
    const local = ndjson<NormalizedEvent>(join(robust, 'events.ndjson'));
    assert.ok(local.some((e) => Object.keys(e.winlog.event_data ?? {}).some((k) => k.includes('\0'))), 'the input still has such names (else this tests nothing)');
    assert.match(summary, new RegExp(`^elasticsearch: ${local.length} event\\(s\\).* 0 rejected`), summary);
    const names = await retrying(async () => Object.keys(await client.indices.get({ index: `${prefix}-events-*`, expand_wildcards: 'all' })));
    const monthly = names.filter((n) => /-\d{4}\.\d{2}$/.test(n)).map((n) => n.slice(-7)).sort();
    const months = [...new Set(local.map((e) => e['@timestamp'].slice(0, 7).replace('-', '.')))].sort();
    t.diagnostic(`${local.length} events in ${months.length} monthly indices (${new Set(local.map((e) => e['@timestamp'].slice(0, 10))).size} days)`);
    assert.deepEqual(monthly, months);
  });
});
