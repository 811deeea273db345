// Events no detector can use are only checked, not normalized, and their data not flattened, when no sink
// takes every event (ingest/kafka/unused.ts neverUsed): the same verdicts, knowledge and used events as the
// whole decoding, on the datasets with broken times and names among them; and the extraction really
// gives those IDs nothing a detector reads.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ClockKnowledge } from '../../../ingest/normalize/clock.js';
import { Normalizer } from '../../../ingest/normalize/index.js';
import { EXTRACTED_KEYS, identityOnly } from '../../../ingest/normalize/extract.js';
import { normalizeChunk, parseChunk, USED, type DecodedBatch, type Learned, type Ship } from '../../../ingest/kafka/batch.js';
import { neverUsed } from '../../../ingest/kafka/unused.js';
import { detectorsUse } from '../../../detectors/uses.js';
import type { NormalizedEvent } from '../../../schemas/event.js';
import { REPO_ROOT, sharedPath, SHARED_DIR } from '../../support/shared.js';
import { datasetMessages } from '../../integration/stream-support.js';

const DATASETS = sharedPath('datasets');
const skip = existsSync(DATASETS) ? false : `datasets not found under ${SHARED_DIR}`;
const SYSMON = 'Microsoft-Windows-Sysmon/Operational';

test('EXTRACTED_KEYS: every data key the extractors read', () => {
  const src = readFileSync(join(REPO_ROOT, 'ingest', 'normalize', 'extract.ts'), 'utf8');
  const read = new Set([...src.matchAll(/\bd\.([A-Za-z_]\w*)/g)].map((m) => m[1]));
  assert.deepEqual([...read].filter((k) => !EXTRACTED_KEYS.includes(k)), []);
});

test('identityOnly: those IDs get who and what logged them, nothing more, whatever the data', () => {
  const norm = new Normalizer({ ingested: '2000-01-01T00:00:00.000Z' });
  const values = ['5985', '10.0.0.1', 'C:\\x\\svchost.exe -c y', 'DOM\\user', 'true', 'false', 'Inbound', '%%14592', '3', '0x3e7', '{00000000-0000-0000-0000-000000000001}'];
  const datas = values.map((v) => Object.fromEntries(EXTRACTED_KEYS.map((k) => [k, v])));
  const ids = [...Array.from({ length: 6000 }, (_, i) => i), 8000, 12039, 40961, 53504, 65535];
  let n = 0;
  for (const channel of ['Security', SYSMON]) {
    for (const id of ids) {
      if (!identityOnly(channel, id)) continue;
      n++;
      for (const event_data of datas) {
        const r = norm.normalize({ timestamp: '2020-01-01T00:00:00.000Z', channel, provider: 'p', computer: 'h', event_id: id, event_data, event_data_kind: 'EventData' }, { format: 'export-winevents' });
        assert.ok(r.ok);
        const e = r.event;
        const extra = Object.keys(e).filter((k) => !['@timestamp', 'ecs', 'event', 'host', 'log', 'winlog', 'hoptrail', 'user', 'process', 'rule'].includes(k));
        assert.deepEqual(extra, [], `${channel} ${id}`);
        assert.deepEqual(Object.keys(e.user ?? {}).filter((k) => !['name', 'domain', 'id'].includes(k)), [], `${channel} ${id}`);
        assert.deepEqual(Object.keys(e.process ?? {}).filter((k) => !['pid', 'executable', 'name', 'entity_id'].includes(k)), [], `${channel} ${id}`);
        assert.deepEqual(Object.keys(e.winlog.logon ?? {}).filter((k) => k !== 'id'), [], `${channel} ${id}`);
        assert.deepEqual(Object.keys(e.event).filter((k) => !['code', 'provider', 'kind', 'ingested'].includes(k)), [], `${channel} ${id}`);
      }
    }
  }
  assert.ok(n > 11_000);
  assert.ok(neverUsed('Security', 4658) && neverUsed(SYSMON, 12) && neverUsed(SYSMON, 7));
  // Taken by ID (isRelevant), or extracted further.
  for (const [ch, id] of [['Security', 4698], ['Security', 4624], ['Security', 5158], ['Security', 1102], [SYSMON, 1], [SYSMON, 3], [SYSMON, 5], [SYSMON, 22], ['System', 7036], ['Microsoft-Windows-WinRM/Operational', 10]] as const) {
    assert.equal(neverUsed(ch, id), false, `${ch} ${id}`);
  }
});

async function decode(values: Buffer[], ship: Ship): Promise<DecodedBatch[] & { learned: Learned[] }> {
  const knowledge = new ClockKnowledge();
  const norm = new Normalizer({ knowledge, ingested: '2024-01-01T00:00:00.000Z' });
  const out: DecodedBatch[] & { learned: Learned[] } = Object.assign([], { learned: [] });
  for (let i = 0; i < values.length; i += 256) {
    const vs = values.slice(i, i + 256);
    const { parsed, learned } = parseChunk(vs, 't', 1 << 20, ship);
    out.learned.push(learned);
    knowledge.merge(learned.delta);
    out.push(normalizeChunk(norm, parsed, 't', 0, vs.map((_v, k) => String(i + k)), ship));
  }
  return out;
}

test('neverUsed: checked only, the verdicts and the used events of the whole normalization', { skip, timeout: 120_000 }, async () => {
  const texts = (await datasetMessages(DATASETS)).map((m) => m.text);
  // Broken copies: times that are no times, out of range, names that are blank.
  const broken = texts.filter((_t, i) => i % 41 === 0).flatMap((t) => [
    t.replace(/"(TimeGenerated|TimeCreated|@timestamp|EventTime)":"[^"]*"/g, '"$1":"2019-02-31 25:61:00"'),
    t.replace(/"(TimeGenerated|TimeCreated|@timestamp|EventTime)":"[^"]*"/g, '"$1":"+275760-09-13T00:00:00.000Z"'),
    t.replace(/"(Computer|computer_name|Hostname)":"[^"]*"/g, '"$1":"  "'),
    t.replace(/"(Provider|EventSourceName|provider_name|SourceName)":"[^"]*"/g, '"$1":""'),
  ]);
  const values = [...texts, ...broken].map((t) => Buffer.from(t));
  const all = await decode(values, { events: 'all', json: false });
  let checkedOnly = 0, rejected = 0;
  for (const ship of [{ events: 'used', json: true }, { events: 'none', json: true }, { events: 'used', json: false }] as Ship[]) {
    const lean = await decode(values, ship);
    assert.deepEqual(lean.learned, all.learned, 'the same clock samples and names learned');
    for (let b = 0; b < all.length; b++) {
      assert.deepEqual([...lean[b].kinds], [...all[b].kinds]);
      assert.deepEqual(lean[b].reasons, all[b].reasons);
      const used = all[b].events.filter((_e, k) => all[b].kinds.filter((x) => x !== 0)[k] === USED).map((e): NormalizedEvent => (e.message === undefined ? e : { ...e, message: undefined }));
      if (ship.events === 'used') assert.deepEqual(lean[b].events, used);
    }
  }
  for (const b of all) {
    let k = 0;
    for (let i = 0; i < b.kinds.length; i++) {
      if (b.kinds[i] === 0) continue;
      const e = b.events[k++];
      if (!neverUsed(e.winlog.channel, e.winlog.event_id)) continue;
      checkedOnly++;
      assert.equal(detectorsUse(e), false);
    }
  }
  for (const t of broken) {
    const o = JSON.parse(t) as { Channel?: string; EventID?: number };
    if (o.Channel !== undefined && neverUsed(o.Channel, Number(o.EventID))) rejected++;
  }
  assert.ok(checkedOnly > 5000 && rejected > 50, `${checkedOnly} events checked only, ${rejected} broken ones`);
});
