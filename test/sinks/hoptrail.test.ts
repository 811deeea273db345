// The hoptrail sink's pure parts: document IDs from provenance, the indexed copy of an event, and the families' mappings.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NormalizedEvent } from '../../schemas/event.js';
import { esSummary } from '../../cli/es-output.js';
import { eventDoc, eventDocId, isShardLimit, fieldTypes, hopDocId, hoptrailFamilies, buildTemplate, HoptrailEsSink } from '../../sinks/elasticsearch/index.js';

function ev(over: { recordId?: number; host?: string; prov?: Partial<NormalizedEvent['hoptrail']['provenance']> } = {}): NormalizedEvent {
  return {
    '@timestamp': '2024-03-01T10:00:00.000Z',
    ecs: { version: '8.11.0' },
    event: { code: '91', provider: 'Microsoft-Windows-WinRM', kind: 'event' },
    host: { name: over.host ?? 'ws1.corp.local', hostname: 'ws1' },
    log: {},
    winlog: {
      channel: 'Microsoft-Windows-WinRM/Operational',
      computer_name: 'WS1.corp.local',
      provider_name: 'Microsoft-Windows-WinRM',
      event_id: 91,
      time_created: '2024-03-01T10:00:00.1234567Z',
      ...(over.recordId !== undefined ? { record_id: over.recordId } : {}),
    },
    hoptrail: { schema_version: '1.0.0', provenance: { format: 'winlogbeat-ecs', file: 'a.json', line: 3, ...over.prov } },
  };
}

test('eventDocId: record form when there is a record id (file position ignored), else Kafka, else file position', () => {
  const a = eventDocId(ev({ recordId: 7 }));
  assert.equal(a, eventDocId(ev({ recordId: 7, prov: { file: 'elsewhere/b.json', line: 99 } })), 'same record read from another file');
  assert.equal(a, eventDocId(ev({ recordId: 7, host: 'WS1.CORP.LOCAL' })));
  assert.notEqual(a, eventDocId(ev({ recordId: 8 })));
  // A slack-space remnant reusing the record id is a document of its own.
  assert.notEqual(a, eventDocId(ev({ recordId: 7, prov: { recovered: true, offset: 4096 } })));
  const k = eventDocId(ev({ prov: { kafka: { topic: 'winlog', partition: 1, offset: 5 } } }));
  assert.equal(k, eventDocId(ev({ prov: { kafka: { topic: 'winlog', partition: 1, offset: 5 }, file: 'x' } })));
  assert.notEqual(k, eventDocId(ev({ prov: { kafka: { topic: 'winlog', partition: 1, offset: 6 } } })));
  const f = eventDocId(ev());
  assert.equal(f, eventDocId(ev()));
  assert.notEqual(f, eventDocId(ev({ prov: { line: 4 } })));
  assert.notEqual(f, eventDocId(ev({ prov: { file: 'b.json' } })));
  assert.notEqual(f, eventDocId(ev({ prov: { entry: 'inner.json' } })));
});

test('hopDocId: stable per hop / chain / fan-out, independent of time', () => {
  const h = { type: 'hop' as const, source: 'a', destination: 'b', time: 't1', session_id: 's1' };
  assert.equal(hopDocId(h), hopDocId({ ...h, time: 't2' }));
  assert.notEqual(hopDocId(h), hopDocId({ ...h, destination: 'c' }));
  const c = { type: 'chain' as const, hosts: ['a', 'b', 'c'], users: [], start: 't', end: 't', session_ids: ['s1', 's2'] };
  assert.notEqual(hopDocId(c), hopDocId({ ...c, session_ids: ['s1', 's3'] }));
  const f = { type: 'fanout' as const, source: 'a', destinations: ['b', 'c', 'd'], start: 't', end: 't', session_ids: ['s1', 's2', 's3'] };
  assert.notEqual(hopDocId(f), hopDocId(c));
});

test('mappings: dynamic false, explicit types, flattened only when the server has it', () => {
  const fams = hoptrailFamilies({ flattened: true });
  for (const fam of Object.values(fams)) {
    const t = buildTemplate(fam, { features: { dataStreams: false, composableTemplates: true } }) as { template: { mappings: { dynamic: unknown } } };
    assert.equal(t.template.mappings.dynamic, false, fam.name);
  }
  const ev = fieldTypes(fams.events.mappings);
  assert.equal(ev.get('@timestamp'), 'date');
  assert.equal(ev.get('winlog.time_created'), 'date_nanos');
  assert.equal(ev.get('winlog.event_data'), 'flattened');
  assert.equal(ev.get('winlog.record_id'), 'long');
  assert.equal(ev.get('source.ip'), 'ip');
  assert.equal(ev.get('process.command_line'), 'text');
  assert.equal(ev.get('process.command_line.keyword'), 'keyword');
  assert.equal(ev.get('powershell.file.script_block_text.keyword'), 'keyword');
  assert.equal(fieldTypes(fams.sessions.mappings).get('paired'), 'boolean');
  assert.equal(fieldTypes(fams.findings.mappings).get('attack'), 'keyword');
  const noFlat = fieldTypes(hoptrailFamilies({ flattened: false }).events.mappings);
  assert.equal(noFlat.get('winlog.event_data'), undefined, 'stored, not indexed');
});

test('the sink refuses documents before open()', async () => {
  const sink = new HoptrailEsSink();
  await assert.rejects(() => sink.event(ev({ recordId: 1 })), /open\(\) first/);
  assert.equal(sink.stats().events.sent, 0);
});

test('hunt --es: an unreachable server fails with a message that carries no password', async () => {
  const { openEsOutput } = await import('../../cli/es-output.js');
  const secret = 'hunter2-very-secret';
  const r = await openEsOutput({ es: `http://bob:${secret}@127.0.0.1:1` }, '/nonexistent', { HOPTRAIL_ES_API_KEY: '' }, 300);
  assert.equal(typeof r, 'string');
  assert.ok(!(r as string).includes(secret) && !(r as string).includes(Buffer.from(`bob:${secret}`).toString('base64')), r as string);
  assert.match(r as string, /^Elasticsearch: /);
  const k = await openEsOutput({ es: 'http://127.0.0.1:1', 'es-api-key-env': 'NOPE_UNSET' }, '/nonexistent', {});
  assert.match(k as string, /NOPE_UNSET is empty or unset/);
  assert.equal(await openEsOutput({}, '/nonexistent', {}), undefined);
});

test('eventDoc: event data keys a flattened field refuses (NUL, kilobytes long) are made safe in the indexed copy only', () => {
  const plain = ev();
  plain.winlog.event_data = { ShellId: 'x', 'Name': 'y' };
  assert.equal(eventDoc(plain), plain, 'nothing to change: the event itself, no copy');
  const e = ev();
  // As a damaged Shell-Core log of the corpus gives them: garbage names with NUL, one repeated.
  const junk = '\0\u0469\0\0x'.repeat(300);
  e.winlog.event_data = { [`${junk}@Name`]: 'a', [`${junk}@Name\uFFFD`]: 'b', 'a\0b': 'c', 'a\uFFFDb': 'd', Fine: 'e', constructor: 'f' };
  e.winlog.user_data = { 'k\0': 'v' };
  const d = eventDoc(e);
  assert.notEqual(d, e);
  const keys = Object.keys(d.winlog.event_data ?? {});
  assert.equal(keys.length, 6, 'no value lost when two keys become one, nor a name an object has already');
  for (const k of [...keys, ...Object.keys(d.winlog.user_data ?? {})]) {
    assert.ok(!k.includes('\0'), 'no NUL');
    assert.ok(k.length <= 520, `short enough: ${k.length}`);
  }
  assert.deepEqual(Object.values(d.winlog.event_data ?? {}).sort(), ['a', 'b', 'c', 'd', 'e', 'f']);
  assert.equal(d.winlog.event_data?.constructor, 'f');
  assert.equal(d.winlog.event_data?.['a\uFFFDb'], 'c');
  assert.equal(d.winlog.event_data?.['a\uFFFDb_2'], 'd');
  // The event itself (events.ndjson) keeps what was read.
  assert.ok(Object.keys(e.winlog.event_data ?? {}).some((k) => k.includes('\0')));
});

test('a cluster at its shard limit is told apart from a bad document, and the summary says what to do', () => {
  // Elasticsearch 8.19's words, as a hunt of the corpus into a cluster of 1 000 shards got them.
  const limit = { type: 'validation_exception', reason: 'Validation Failed: 1: this action would add [1] shards, but this cluster currently has [1000]/[1000] maximum normal shards open; for more information, see https://www.elastic.co/docs/...' };
  assert.equal(isShardLimit(limit), true);
  assert.equal(isShardLimit({ type: 'document_parsing_exception', reason: 'failed to parse field [source.port] of type [long]' }), false);
  assert.equal(isShardLimit('our own reason'), false);
  const stats = (shardLimit: number) => ({
    events: { sent: 100, rejected: shardLimit }, sessions: { sent: 1, rejected: 0 }, hops: { sent: 0, rejected: 0 }, findings: { sent: 0, rejected: 0 },
    indexer: { pushed: 101, indexed: 101 - shardLimit, duplicates: 0, rejected: shardLimit, retries: 0, batches: 1, bytes: 1, outstanding: 0 }, shardLimit,
  });
  assert.deepEqual(esSummary(stats(0), 'out'), ['elasticsearch: 100 event(s), 1 session(s), 0 hop record(s), 0 finding(s) sent; 101 indexed, 0 already there, 0 rejected']);
  const lines = esSummary(stats(40), 'out');
  assert.equal(lines.length, 2);
  assert.match(lines[0], /40 rejected \(see out\/es-rejects\.ndjson\)/);
  assert.match(lines[1], /^ {2}note: 40 of them because the cluster is at its shard limit \(cluster\.max_shards_per_node\)/);
});
