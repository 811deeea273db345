// EVTX records that a parser already dumped as JSON are read as the EVTX file itself would be:
// - the corpus reference dumps (libevtx's output, in hoptrail dump's field names) read as JSON inputs,
//   gzip and all, normalize to the events our parser's records of the same files give;
// - `hoptrail dump` output read back by `hoptrail normalize` gives the events of the EVTX file, slack-space
//   remnants included;
// - the Rust evtx crate's `evtx_dump` layout, on an event spelled out as it writes one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readEvtx } from '../../ingest/evtx/index.js';
import { readJsonFile } from '../../ingest/json/read.js';
import { adapt } from '../../ingest/json/detect.js';
import { parseMessage } from '../../ingest/kafka/decode.js';
import { Normalizer } from '../../ingest/normalize/index.js';
import { NormalizedEvent } from '../../schemas/event.js';
import { corpusFiles } from '../support/corpus.js';
import { REPO_ROOT, SKIP_NO_SHARED, sharedPath } from '../support/shared.js';

const INGESTED = '2026-01-01T00:00:00.000Z';

/** An event less what says where it was read from (but whether it was recovered from slack space). */
function content(e: NormalizedEvent): Record<string, unknown> {
  const c = structuredClone(e) as NormalizedEvent & Record<string, unknown>;
  c.hoptrail = { ...c.hoptrail, provenance: { format: 'evtx', recovered: c.hoptrail.provenance.recovered } };
  delete c.log.file;
  delete c.log.offset;
  return c;
}

async function evtxEvents(file: string, keepRecovered: boolean): Promise<Record<string, unknown>[]> {
  const n = new Normalizer({ validate: NormalizedEvent, ingested: INGESTED });
  const out: Record<string, unknown>[] = [];
  for await (const it of readEvtx(file)) {
    if (it.kind !== 'record' || (it.recovered && !keepRecovered)) continue;
    const r = n.normalize(it.record, { format: 'evtx', file, chunk: it.loc.chunk, offset: it.loc.offset, ...(it.recovered ? { recovered: true } : {}) });
    assert.ok(r.ok, r.ok ? '' : r.reason);
    out.push(content(r.event));
  }
  return out;
}

async function jsonEvents(file: string, format: string): Promise<Record<string, unknown>[]> {
  const n = new Normalizer({ validate: NormalizedEvent, ingested: INGESTED });
  const out: Record<string, unknown>[] = [];
  for await (const it of readJsonFile(file)) {
    assert.equal(it.kind, 'record', it.kind === 'reject' ? `${it.reject.position}: ${it.reject.reason}` : '');
    if (it.kind !== 'record') continue;
    assert.equal(it.prov.format, format);
    const r = n.normalize(it.record, it.prov);
    assert.ok(r.ok, r.ok ? '' : r.reason);
    out.push(content(r.event));
  }
  return out;
}

/** N1's reference has whitespace-only values where ours are empty (../shared/corpus/README.md): equal here. */
function blankWhitespace(events: Record<string, unknown>[]): void {
  for (const e of events) {
    const w = e.winlog as { event_data?: Record<string, string>; user_data?: Record<string, string> };
    for (const d of [w.event_data, w.user_data]) if (d) for (const k in d) if (d[k].trim() === '') d[k] = '';
  }
}

test('the corpus reference dumps, read as JSON inputs, normalize to the events of their EVTX files', { skip: SKIP_NO_SHARED }, async () => {
  let compared = 0;
  for (const f of corpusFiles()) {
    const want = await evtxEvents(sharedPath('corpus', f), false);
    const got = await jsonEvents(sharedPath('corpus', f + '.reference.ndjson.gz'), 'hoptrail-dump');
    if (f.startsWith('N1')) { blankWhitespace(want); blankWhitespace(got); }
    assert.equal(got.length, want.length, f);
    for (let i = 0; i < got.length; i++) assert.deepEqual(got[i], want[i], `${f} record ${i}`);
    compared += got.length;
  }
  assert.equal(compared, 6688);
});

test('hoptrail dump output read back by normalize gives the EVTX file\'s events, slack-space remnants included', { skip: SKIP_NO_SHARED }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoptrail-dumpjson-'));
  try {
    for (const f of ['X1_ID1149-RDP_success_logins_to_multiple_hosts.evtx', 'L3_smb-password-guessing-security.evtx']) {
      const evtx = sharedPath('corpus', f);
      const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'hoptrail.js'), 'dump', evtx], { encoding: 'utf8', maxBuffer: 1 << 28 });
      assert.equal(r.status, 0, r.stderr);
      const jsonl = join(dir, f + '.jsonl');
      writeFileSync(jsonl, r.stdout);
      const want = await evtxEvents(evtx, true);
      const got = await jsonEvents(jsonl, 'hoptrail-dump');
      assert.ok(want.some((e) => (e.hoptrail as NormalizedEvent['hoptrail']).provenance.recovered), `${f} has remnants`);
      assert.deepEqual(got, want, f);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('evtx_dump JSON: EventID qualifiers, unnamed Data as #text, an empty Binary, bare GUIDs, microsecond times', () => {
  // One event as the Rust evtx crate writes it (System log, EventLog 6009).
  const doc = {
    Event: {
      '#attributes': { xmlns: 'http://schemas.microsoft.com/win/2004/08/events/event' },
      EventData: { Binary: null, Data: { '#text': ['10.00.', '15063', '', 'Multiprocessor Free', '0'] } },
      System: {
        Channel: 'System', Computer: 'WIN-P4SIAA0SQCO',
        EventID: { '#attributes': { Qualifiers: 32768 }, '#text': 6009 },
        EventRecordID: 1, Keywords: '0x80000000000000', Level: 4,
        Provider: { '#attributes': { Name: 'EventLog', Guid: 'fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148' } },
        Execution: { '#attributes': { ProcessID: 4, ThreadID: 96 } },
        Security: null, Task: 0,
        TimeCreated: { '#attributes': { SystemTime: '2017-07-12T17:16:28.214161Z' } },
      },
    },
  };
  const a = adapt(doc, undefined);
  assert.ok('record' in a, 'reason' in a ? a.reason : '');
  assert.equal(a.format, 'event-xml-json');
  assert.deepEqual(a.record, {
    timestamp: '2017-07-12T17:16:28.214161Z', channel: 'System', provider: 'EventLog', computer: 'WIN-P4SIAA0SQCO', event_id: 6009,
    event_data: { param1: '10.00.', param2: '15063', param3: '', param4: 'Multiprocessor Free', param5: '0', Binary: '' }, event_data_kind: 'EventData',
    record_id: 1, provider_guid: '{FC65DDD8-D6EF-4962-83D5-6E5CFE9CE148}', level: 4, task: 0, keywords: '0x80000000000000', process_id: 4, thread_id: 96,
  });
  const n = new Normalizer({ validate: NormalizedEvent, ingested: INGESTED }).normalize(a.record, { format: a.format, file: 'System.jsonl', line: 1 });
  assert.ok(n.ok, n.ok ? '' : n.reason);
  assert.equal(n.event['@timestamp'], '2017-07-12T17:16:28.214Z');
  assert.equal(n.event.host.name, 'win-p4siaa0sqco');
});

test('EVTX-dump JSON that lacks what an event needs is a reject that says what is missing', () => {
  const reason = (v: unknown): string => {
    const a = adapt(v, undefined);
    assert.ok('reason' in a);
    return a.reason;
  };
  assert.equal(reason({ Event: { System: { Channel: 'Security', Computer: 'h' } } }), 'event XML JSON: no System.EventID');
  assert.equal(reason({ Event: { System: { EventID: 4624, Channel: 'Security', Computer: 'h', Provider: { '#attributes': { Name: 'p' } } } } }), 'event XML JSON: no System.TimeCreated SystemTime');
  assert.equal(reason({ event_id: 4624, channel: 'Security', provider: 'p', computer: 'h' }), 'hoptrail dump: no timestamp');
  assert.equal(reason({ event_id: 4624, channel: 'Security', provider: 'p', computer: 'h', timestamp: '2020-01-01T00:00:00Z', event_data: 'x' }), 'hoptrail dump: event_data is not an object');
  assert.equal(reason({ event_id: 4624, channel: 'Security', provider: 'p', computer: 'h', timestamp: '2020-01-01T00:00:00Z', event_data_kind: 'Other' }), "hoptrail dump: unknown event_data_kind 'Other'");
});

test('data nested thousands deep is one reject with its reason, in a file (the lines around it are read) and in a stream message', async () => {
  let deep = '"x"';
  for (let i = 0; i < 20_000; i++) deep = `{"a":${deep}}`;
  const system = '{"EventID":1,"Channel":"C","Computer":"h","Provider":{"#attributes":{"Name":"p"}},"TimeCreated":{"#attributes":{"SystemTime":"2020-01-01T00:00:00Z"}}}';
  const good = `{"Event":{"System":${system},"EventData":{"A":"1"}}}`;
  const lines = [
    good,
    `{"Event":{"System":${system},"UserData":{"R":${deep}}}}`,
    `{"log_name":"Security","event_id":1,"source_name":"p","computer_name":"h","@timestamp":"2020-01-01T00:00:00Z","event_data":{"k":${deep}}}`,
    good,
  ];
  const dir = mkdtempSync(join(tmpdir(), 'hoptrail-deep-'));
  try {
    const file = join(dir, 'deep.jsonl');
    writeFileSync(file, lines.join('\n') + '\n');
    const kinds: string[] = [];
    for await (const it of readJsonFile(file)) kinds.push(it.kind === 'reject' ? `reject ${it.reject.position}: ${it.reject.reason}` : it.kind);
    assert.deepEqual(kinds, [
      'record',
      'reject line 2, offset ' + (lines[0].length + 1) + ': cannot read this object: Maximum call stack size exceeded',
      'reject line 3, offset ' + (lines[0].length + lines[1].length + 2) + ': cannot read this object: Maximum call stack size exceeded',
      'record',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const m = parseMessage(Buffer.from(lines[2]), 'winlogbeat', 1 << 30);
  assert.deepEqual(m, { ok: false, reason: 'cannot read this object: Maximum call stack size exceeded' });
});
