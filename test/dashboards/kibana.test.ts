// The Kibana saved objects: structure of each object, every reference resolves, and every field a panel
// uses exists in the index templates with a type that fits the use. Fields are read back from the saved
// JSON itself (visState, controls, columns, sort, KQL), not only from the builder's own list.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildKibanaObjects, FITTING_TYPES, toNdjson, type FieldUse, type SavedObject } from '../../dashboards/kibana/objects.js';
import { buildTemplate, fieldTypes, hoptrailFamilies, indexFor, type FamilyName } from '../../sinks/elasticsearch/index.js';
import { REPO_ROOT } from '../support/shared.js';

const FAMILIES: FamilyName[] = ['events', 'sessions', 'hops', 'findings'];
const { objects, fields: declared } = buildKibanaObjects();
const families = hoptrailFamilies({ flattened: true });
const types: Record<FamilyName, Map<string, string>> = {
  events: fieldTypes(families.events.mappings),
  sessions: fieldTypes(families.sessions.mappings),
  hops: fieldTypes(families.hops.mappings),
  findings: fieldTypes(families.findings.mappings),
};

/** A Kibana index pattern ("a*,b-*") as a RegExp. */
function patternRe(title: string): RegExp {
  const alts = title.split(',').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*'));
  return new RegExp(`^(?:${alts.join('|')})$`);
}

const byKey = new Map(objects.map((o) => [`${o.type}:${o.id}`, o]));
const json = (s: unknown, what: string): Record<string, unknown> => {
  assert.equal(typeof s, 'string', `${what} is a JSON string`);
  return JSON.parse(s as string) as Record<string, unknown>;
};

/** The family an object's data view reference points at. */
function familiesOf(o: SavedObject): FamilyName[] {
  return o.references
    .filter((r) => r.type === 'index-pattern')
    .map((r) => {
      const dv = byKey.get(`index-pattern:${r.id}`);
      assert.ok(dv, `${o.id}: data view ${r.id} exists`);
      const title = dv.attributes.title as string;
      const fam = FAMILIES.filter((f) => patternRe(title).test(indexFor(families[f], { features: { dataStreams: false, composableTemplates: true } }, '2024-03-01T00:00:00Z')));
      assert.equal(fam.length, 1, `${dv.id} (${title}) matches exactly one family`);
      return fam[0];
    });
}

test('every saved object has the structure Kibana imports', () => {
  assert.ok(objects.length >= 4 + 5, `${objects.length} objects`);
  const ids = new Set<string>();
  for (const o of objects) {
    assert.ok(['index-pattern', 'visualization', 'search', 'dashboard'].includes(o.type), o.type);
    assert.match(o.id, /^[a-z0-9][a-z0-9_.-]*$/, o.id);
    assert.ok(!ids.has(`${o.type}:${o.id}`), `duplicate ${o.id}`);
    ids.add(`${o.type}:${o.id}`);
    assert.equal(typeof o.attributes.title, 'string');
    assert.ok((o.attributes.title as string).length > 0);
    assert.match(o.coreMigrationVersion, /^8\.\d+\.\d+$/);
    assert.match(o.typeMigrationVersion, /^\d+\.\d+\.\d+$/);
    assert.equal(new Set(o.references.map((r) => r.name)).size, o.references.length, `${o.id}: reference names unique`);
    const meta = o.attributes.kibanaSavedObjectMeta as { searchSourceJSON?: string } | undefined;
    if (o.type !== 'index-pattern') {
      const ss = json(meta?.searchSourceJSON, `${o.id} searchSourceJSON`);
      assert.deepEqual(Object.keys(ss.query as object).sort(), ['language', 'query']);
      assert.ok(Array.isArray(ss.filter));
      if (ss.indexRefName !== undefined) assert.ok(o.references.some((r) => r.name === ss.indexRefName && r.type === 'index-pattern'), `${o.id}: indexRefName resolves`);
    }
    switch (o.type) {
      case 'index-pattern':
        assert.equal(o.references.length, 0);
        assert.equal(typeof o.attributes.timeFieldName, 'string');
        break;
      case 'visualization': {
        const vs = json(o.attributes.visState, `${o.id} visState`);
        assert.equal(vs.title, o.attributes.title);
        assert.equal(typeof vs.type, 'string');
        assert.ok(Array.isArray(vs.aggs));
        json(o.attributes.uiStateJSON, `${o.id} uiStateJSON`);
        const aggs = vs.aggs as Array<{ id: string; type: string; schema: string }>;
        assert.equal(new Set(aggs.map((a) => a.id)).size, aggs.length, `${o.id}: agg ids unique`);
        if (vs.type !== 'input_control_vis') assert.ok(aggs.some((a) => a.schema === 'metric'), `${o.id}: has a metric`);
        for (const c of ((vs.params as { controls?: Array<{ indexPatternRefName: string }> }).controls ?? [])) {
          assert.ok(o.references.some((r) => r.name === c.indexPatternRefName), `${o.id}: control reference resolves`);
        }
        break;
      }
      case 'search':
        assert.ok(Array.isArray(o.attributes.columns) && (o.attributes.columns as unknown[]).length > 0);
        assert.ok(Array.isArray(o.attributes.sort));
        break;
      case 'dashboard': {
        const panels = json(o.attributes.panelsJSON, `${o.id} panelsJSON`) as unknown as Array<{ panelIndex: string; panelRefName: string; type: string; gridData: { x: number; y: number; w: number; h: number; i: string } }>;
        json(o.attributes.optionsJSON, `${o.id} optionsJSON`);
        assert.ok(panels.length > 0);
        for (const p of panels) {
          const ref = o.references.find((r) => r.name === `${p.panelIndex}:${p.panelRefName}`);
          assert.ok(ref, `${o.id}: panel ${p.panelIndex} has its reference`);
          assert.equal(ref.type, p.type);
          assert.equal(p.gridData.i, p.panelIndex);
          assert.ok(p.gridData.x >= 0 && p.gridData.w > 0 && p.gridData.x + p.gridData.w <= 48, `${o.id}: panel ${p.panelIndex} within the grid`);
        }
        // No two panels overlap.
        for (const a of panels) for (const b of panels) {
          if (a === b) continue;
          const A = a.gridData, B = b.gridData;
          assert.ok(A.x + A.w <= B.x || B.x + B.w <= A.x || A.y + A.h <= B.y || B.y + B.h <= A.y, `${o.id}: panels ${a.panelIndex} and ${b.panelIndex} overlap`);
        }
        break;
      }
    }
  }
  for (const t of ['index-pattern', 'visualization', 'search', 'dashboard']) assert.ok(objects.some((o) => o.type === t), `some ${t}`);
  assert.equal(objects.filter((o) => o.type === 'dashboard').length, 5);
});

test('every reference resolves to an object in the export', () => {
  for (const o of objects) for (const r of o.references) assert.ok(byKey.has(`${r.type}:${r.id}`), `${o.id} -> ${r.type}:${r.id}`);
  // And every non-dashboard object is used by a dashboard (data views by the rest).
  const used = new Set(objects.flatMap((o) => o.references.map((r) => `${r.type}:${r.id}`)));
  for (const o of objects) if (o.type !== 'dashboard') assert.ok(used.has(`${o.type}:${o.id}`), `${o.id} is used`);
});

test('data views match the indices the sink writes (daily and data stream), one family each', () => {
  for (const o of objects.filter((x) => x.type === 'index-pattern')) {
    const re = patternRe(o.attributes.title as string);
    const fam = familiesOf({ ...o, references: [{ name: 'x', type: 'index-pattern', id: o.id }] })[0];
    for (const dataStreams of [false, true]) {
      const target = indexFor(families[fam], { features: { dataStreams, composableTemplates: true } }, '2024-03-01T00:00:00Z');
      assert.ok(re.test(target), `${o.attributes.title as string} matches ${target}`);
      for (const other of FAMILIES.filter((f) => f !== fam)) {
        assert.ok(!re.test(indexFor(families[other], { features: { dataStreams, composableTemplates: true } }, '2024-03-01T00:00:00Z')), `${o.id} does not match ${other}`);
      }
    }
    // The template governs what the data view sees.
    const tpl = buildTemplate(families[fam], { features: { dataStreams: false, composableTemplates: true } }) as { index_patterns: string[] };
    assert.ok(tpl.index_patterns.length > 0);
  }
});

test('every field a panel uses exists in the index templates with a fitting type', () => {
  const used: Array<{ id: string; family: FamilyName; field: string; use: FieldUse }> = [];
  for (const o of objects) {
    if (o.type === 'dashboard') continue;
    if (o.type === 'index-pattern') {
      used.push({ id: o.id, family: familiesOf({ ...o, references: [{ name: 'x', type: 'index-pattern', id: o.id }] })[0], field: o.attributes.timeFieldName as string, use: 'date' });
      continue;
    }
    const [family] = familiesOf(o);
    const add = (field: string, use: FieldUse): void => void used.push({ id: o.id, family, field, use });
    const ss = json((o.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string }).searchSourceJSON, 'searchSourceJSON');
    // KQL written as `field : value` or `field >= n`.
    for (const m of ((ss.query as { query: string }).query).matchAll(/([A-Za-z@_][\w.@]*)\s*(?::|>=|<=|>|<)/g)) add(m[1], 'searchable');
    if (o.type === 'visualization') {
      const vs = JSON.parse(o.attributes.visState as string) as { params: { controls?: Array<{ fieldName: string }> }; aggs: Array<{ type: string; params: { field?: string } }> };
      for (const a of vs.aggs) if (a.params.field !== undefined) add(a.params.field, a.type === 'date_histogram' ? 'date' : 'aggregatable');
      for (const c of vs.params.controls ?? []) add(c.fieldName, 'aggregatable');
    } else {
      for (const c of o.attributes.columns as string[]) add(c, 'column');
      for (const [f] of o.attributes.sort as Array<[string, string]>) add(f, 'aggregatable');
    }
  }
  assert.ok(used.length > 40, `${used.length} field uses`);
  const problems: string[] = [];
  for (const u of used) {
    const t = types[u.family].get(u.field);
    if (t === undefined) problems.push(`${u.id}: ${u.field} is not in the ${u.family} mapping`);
    else if (!FITTING_TYPES[u.use].includes(t)) problems.push(`${u.id}: ${u.field} is ${t}, not fit for ${u.use}`);
  }
  assert.deepEqual(problems, []);
  // The builder's own list says the same.
  for (const d of declared) {
    const t = types[d.family].get(d.field);
    assert.ok(t !== undefined && FITTING_TYPES[d.use].includes(t), `${d.objectId}: ${d.field} (${t ?? 'missing'}) for ${d.use}`);
  }
  // A text-only field would not do for a terms aggregation: the check is not vacuous.
  assert.equal(types.sessions.get('commands.text'), 'text');
  assert.ok(!FITTING_TYPES.aggregatable.includes('text'));
});

test('hoptrail dashboards export writes the same NDJSON to stdout and to --out; --prefix moves the data views', () => {
  const bin = join(REPO_ROOT, 'bin', 'hoptrail.js');
  const r = spawnSync(process.execPath, [bin, 'dashboards', 'export'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, toNdjson(objects));
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, objects.length);
  for (const l of lines) JSON.parse(l);
  const dir = mkdtempSync(join(tmpdir(), 'hoptrail-dash-'));
  try {
    const file = join(dir, 'k.ndjson');
    const w = spawnSync(process.execPath, [bin, 'dashboards', 'export', '--out', file, '--prefix', 'soc1'], { encoding: 'utf8' });
    assert.equal(w.status, 0, w.stderr);
    const titles = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as SavedObject).filter((o) => o.type === 'index-pattern').map((o) => o.attributes.title);
    assert.deepEqual(titles, ['soc1-events*', 'soc1-sessions*', 'soc1-hops*', 'soc1-findings*']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(spawnSync(process.execPath, [bin, 'dashboards', 'import'], { encoding: 'utf8' }).status, 2);
});
