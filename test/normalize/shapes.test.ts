// The same event in every shape normalizes to equal fields. test/support/shapes.ts renders each corpus
// record as Winlogbeat 6, Winlogbeat 7/8 ECS, NXLog and Export-WinEvents JSON; each goes through the real
// adapter and normalizer and is compared with the EVTX record's own normalization, on every field except
// those a shape cannot carry (listed in SHAPE_FIELDS below) and with times compared to the second.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adapt, type JsonFormat } from '../../ingest/json/detect.js';
import { ClockKnowledge, Normalizer } from '../../ingest/normalize/index.js';
import type { EvtxRecord } from '../../ingest/evtx/record.js';
import { NormalizedEvent } from '../../schemas/event.js';
import { corpusFiles, referenceRecords } from '../support/corpus.js';
import { SKIP_NO_SHARED } from '../support/shared.js';
import { toEventXmlJson, toExportWinEvents, toNxlog, toWinlogbeat6, toWinlogbeatEcs, twelveHour } from '../support/shapes.js';

const INGESTED = '2026-01-01T00:00:00.000Z';

/** The comparable projection: drops what differs by nature of the shape (provenance, clock notes, names vs numbers). */
function project(e: NormalizedEvent, format: JsonFormat | 'evtx'): Record<string, unknown> {
  const c = structuredClone(e) as Record<string, unknown> & NormalizedEvent;
  c['@timestamp'] = e['@timestamp'].slice(0, 19);
  delete c.message;
  delete (c as { hoptrail?: unknown }).hoptrail;
  delete (c as { log?: unknown }).log;
  delete c.event.ingested;
  delete c.event.created;
  const w = c.winlog as Record<string, unknown>;
  for (const k of ['time_created', 'keywords', 'level', 'opcode', 'task']) delete w[k];
  delete c.event.outcome; // from a keywords mask, keyword names, or NXLog's EventType: pinned in other tests
  if (format === 'nxlog') {
    // NXLog flattens UserData into the same top level as EventData.
    if (w.user_data) { w.event_data = w.user_data; delete w.user_data; }
    // NXLog ships classic PowerShell events as Message text only: compare what is parsed out of it.
    if (w.channel === 'Windows PowerShell') delete w.event_data;
  }
  return c;
}

function evtxProjection(r: EvtxRecord, format: JsonFormat): Record<string, unknown> {
  const n = new Normalizer({ validate: NormalizedEvent, ingested: INGESTED });
  const res = n.normalize(r, { format: 'evtx', file: 'x.evtx' });
  assert.ok(res.ok);
  return project(res.event, format);
}

function check(format: JsonFormat, render: (r: EvtxRecord) => Record<string, unknown> | undefined, opts: { tz?: string; anchor?: boolean }): number {
  let compared = 0;
  for (const f of corpusFiles()) {
    for (const r of referenceRecords(f)) {
      const obj = render(r);
      if (obj === undefined) continue;
      const a = adapt(JSON.parse(JSON.stringify(obj)), undefined, f);
      assert.ok('record' in a, `${f} ${r.record_id}: ${'reason' in a ? a.reason : ''}`);
      assert.equal(a.format, format, 'auto-detected');
      let knowledge: ClockKnowledge | undefined;
      if (opts.anchor) {
        // A Sysmon event on the same host gives the true UTC that settles AM/PM.
        knowledge = new ClockKnowledge();
        knowledge.observe({ ...a.record, provider: 'Microsoft-Windows-Sysmon', event_id: 1, event_data: { UtcTime: r.timestamp.replace('T', ' ').slice(0, 23) }, timestamp: twelveHour(r.timestamp.slice(0, 23) + 'Z') }, f);
      }
      const n = new Normalizer({ validate: NormalizedEvent, ingested: INGESTED, tz: opts.tz, knowledge });
      const res = n.normalize(a.record, { format, file: f });
      assert.ok(res.ok, `${f} ${r.record_id}: ${res.ok ? '' : res.reason}`);
      const got = project(res.event, format);
      const want = evtxProjection(r, format);
      assert.deepEqual(got, want, `${format}: ${f} record ${r.record_id}`);
      compared++;
    }
  }
  return compared;
}

test('Winlogbeat 6 shape normalizes to the EVTX fields', { skip: SKIP_NO_SHARED }, () => {
  assert.equal(check('winlogbeat6', toWinlogbeat6, {}), 6688);
});

test('Winlogbeat 7/8 ECS shape normalizes to the EVTX fields', { skip: SKIP_NO_SHARED }, () => {
  assert.equal(check('winlogbeat-ecs', toWinlogbeatEcs, {}), 6688);
});

test('NXLog shape (local time, --tz -04:00) normalizes to the EVTX fields', { skip: SKIP_NO_SHARED }, () => {
  assert.ok(check('nxlog', toNxlog, { tz: '-04:00' }) > 6000);
});

test('Export-WinEvents shape (12-hour bug, Sysmon anchor) normalizes to the EVTX fields', { skip: SKIP_NO_SHARED }, () => {
  assert.ok(check('export-winevents', toExportWinEvents, { anchor: true }) > 6000);
});

// EVTX dumped by another parser: the Rust evtx crate's evtx_dump (attributes nested, or separate with
// --separate-json-attributes) and xmltodict's spelling of the same XML.
test('event XML as JSON (evtx_dump, both attribute layouts) normalizes to the EVTX fields', { skip: SKIP_NO_SHARED }, () => {
  // All but N1's 7 UserData records with repeated element names (which the renderer does not rebuild).
  assert.equal(check('event-xml-json', (r) => toEventXmlJson(r, 'attributes'), {}), 6681);
  assert.equal(check('event-xml-json', (r) => toEventXmlJson(r, 'separate'), {}), 6681);
});

test('event XML as JSON (xmltodict spelling) normalizes to the EVTX fields', { skip: SKIP_NO_SHARED }, () => {
  // Less N1's 268 events with one unnamed Data, which xmltodict writes as a bare string (read as a Data named "Data").
  assert.equal(check('event-xml-json', (r) => toEventXmlJson(r, 'xmltodict'), {}), 6413);
});
