// Kibana saved objects for hoptrail's index families: one data view per family and dashboards for
// remoting sessions over time, hops, findings, commands run in remote sessions, and a host drill-down.
// Built from code so every field a panel uses is named in one place and checked against the index
// templates (test/dashboards). Legacy aggregation-based visualizations: the simplest saved form that
// imports into every 8.x Kibana through the saved-objects API (POST /api/saved_objects/_import).
import { DEFAULT_PREFIX, familyPattern } from '../../sinks/elasticsearch/templates.js';
import type { FamilyName } from '../../sinks/elasticsearch/mappings.js';

export interface SavedObjectReference {
  name: string;
  type: string;
  id: string;
}

export interface SavedObject {
  type: 'index-pattern' | 'visualization' | 'search' | 'dashboard';
  id: string;
  attributes: Record<string, unknown>;
  references: SavedObjectReference[];
  coreMigrationVersion: string;
  typeMigrationVersion: string;
}

/** How a field is used, and so which mapping types fit. */
export type FieldUse = 'date' | 'aggregatable' | 'searchable' | 'column';

export interface FieldUsage {
  /** The saved object that uses it. */
  objectId: string;
  family: FamilyName;
  field: string;
  use: FieldUse;
}

/** Types that fit each use (text is searchable but cannot be aggregated or sorted on). */
export const FITTING_TYPES: Record<FieldUse, readonly string[]> = {
  date: ['date', 'date_nanos'],
  aggregatable: ['keyword', 'ip', 'long', 'integer', 'float', 'boolean', 'date', 'date_nanos'],
  searchable: ['keyword', 'ip', 'long', 'integer', 'float', 'boolean', 'date', 'date_nanos', 'text', 'flattened'],
  column: ['keyword', 'ip', 'long', 'integer', 'float', 'boolean', 'date', 'date_nanos', 'text', 'flattened'],
};

/** The time field of each family's data view. */
export const TIME_FIELDS: Record<FamilyName, string> = { events: '@timestamp', sessions: 'start', hops: '@timestamp', findings: 'start' };

const CORE = '8.8.0';
const SEARCH_INDEX_REF = 'kibanaSavedObjectMeta.searchSourceJSON.index';

export interface KibanaExport {
  objects: SavedObject[];
  /** Every field every object uses, for the checks. */
  fields: FieldUsage[];
}

/** KQL: `field : value` pairs, so the fields a query uses are known. */
interface Query {
  kql: string;
  fields: string[];
}

const q = (kql: string, ...fields: string[]): Query => ({ kql, fields });
const NO_QUERY = q('');

type Agg =
  | { kind: 'count' }
  | { kind: 'cardinality'; field: string }
  | { kind: 'date_histogram'; field: string; schema: 'segment' }
  | { kind: 'terms'; field: string; size: number; schema: 'segment' | 'group' | 'bucket' };

export function buildKibanaObjects(prefix = DEFAULT_PREFIX): KibanaExport {
  const objects: SavedObject[] = [];
  const fields: FieldUsage[] = [];
  const use = (objectId: string, family: FamilyName, field: string, u: FieldUse): void => {
    fields.push({ objectId, family, field, use: u });
  };
  const id = (kind: string, name: string): string => `${prefix}-${kind}-${name}`;
  const dv = (family: FamilyName): string => id('dataview', family);

  for (const family of ['events', 'sessions', 'hops', 'findings'] as const) {
    objects.push({
      type: 'index-pattern',
      id: dv(family),
      attributes: { title: familyPattern({ name: family }, prefix), name: `hoptrail ${family}`, timeFieldName: TIME_FIELDS[family] },
      references: [],
      coreMigrationVersion: CORE,
      typeMigrationVersion: '8.0.0',
    });
    use(dv(family), family, TIME_FIELDS[family], 'date');
  }

  const searchSource = (query: Query, withIndex: boolean): { searchSourceJSON: string } => ({
    searchSourceJSON: JSON.stringify({ query: { query: query.kql, language: 'kuery' }, filter: [], ...(withIndex ? { indexRefName: SEARCH_INDEX_REF } : {}) }),
  });

  /** An aggregation-based visualization on one family. */
  /** A visualization saved object (aggregation-based, 8.x migration versions). */
  const pushVisualization = (id: string, title: string, visState: Record<string, unknown>, meta: { searchSourceJSON: string }, reference: SavedObject['references'][number]): void => {
    objects.push({
      type: 'visualization',
      id,
      attributes: { title, description: '', uiStateJSON: '{}', version: 1, visState: JSON.stringify(visState), kibanaSavedObjectMeta: meta },
      references: [reference],
      coreMigrationVersion: CORE,
      typeMigrationVersion: '8.5.0',
    });
  };

  const vis = (name: string, title: string, family: FamilyName, type: string, params: Record<string, unknown>, aggs: Agg[], query: Query = NO_QUERY): string => {
    const vid = id('vis', name);
    const aggsJson = aggs.map((a, i) => {
      const aid = String(i + 1);
      switch (a.kind) {
        case 'count':
          return { id: aid, enabled: true, type: 'count', schema: 'metric', params: {} };
        case 'cardinality':
          use(vid, family, a.field, 'aggregatable');
          return { id: aid, enabled: true, type: 'cardinality', schema: 'metric', params: { field: a.field } };
        case 'date_histogram':
          use(vid, family, a.field, 'date');
          return { id: aid, enabled: true, type: 'date_histogram', schema: a.schema, params: { field: a.field, interval: 'auto', min_doc_count: 1, extended_bounds: {} } };
        case 'terms':
          use(vid, family, a.field, 'aggregatable');
          return {
            id: aid,
            enabled: true,
            type: 'terms',
            schema: a.schema,
            params: { field: a.field, size: a.size, order: 'desc', orderBy: '1', otherBucket: false, missingBucket: false },
          };
      }
    });
    for (const f of query.fields) use(vid, family, f, 'searchable');
    pushVisualization(vid, title, { title, type, params, aggs: aggsJson }, searchSource(query, true), { name: SEARCH_INDEX_REF, type: 'index-pattern', id: dv(family) });
    return vid;
  };

  /** A saved search (Discover table) on one family. */
  const search = (name: string, title: string, family: FamilyName, columns: string[], query: Query = NO_QUERY): string => {
    const sid = id('search', name);
    for (const c of columns) use(sid, family, c, 'column');
    for (const f of query.fields) use(sid, family, f, 'searchable');
    const sortField = TIME_FIELDS[family];
    use(sid, family, sortField, 'date');
    objects.push({
      type: 'search',
      id: sid,
      attributes: { title, description: '', columns, sort: [[sortField, 'desc']], kibanaSavedObjectMeta: searchSource(query, true) },
      references: [{ name: SEARCH_INDEX_REF, type: 'index-pattern', id: dv(family) }],
      coreMigrationVersion: CORE,
      typeMigrationVersion: '8.0.0',
    });
    return sid;
  };

  /** A list control (host picker) that filters the dashboard on a keyword field. */
  const control = (name: string, title: string, family: FamilyName, field: string, label: string): string => {
    const vid = id('vis', name);
    use(vid, family, field, 'aggregatable');
    const params = {
      controls: [
        {
          id: '1',
          fieldName: field,
          label,
          type: 'list',
          options: { type: 'terms', multiselect: false, dynamicOptions: true, size: 100, order: 'desc' },
          parent: '',
          indexPatternRefName: 'control_0_index_pattern',
        },
      ],
      updateFiltersOnChange: true,
      useTimeFilter: false,
      pinFilters: false,
    };
    pushVisualization(vid, title, { title, type: 'input_control_vis', params, aggs: [] }, searchSource(NO_QUERY, false), { name: 'control_0_index_pattern', type: 'index-pattern', id: dv(family) });
    return vid;
  };

  /** A dashboard of panels laid out two per row (w 24 of 48), a full-width panel when `wide`. */
  const dashboard = (name: string, title: string, description: string, panels: Array<{ id: string; type: 'visualization' | 'search'; wide?: boolean; h?: number }>): void => {
    let x = 0;
    let y = 0;
    let rowH = 0;
    const panelsJSON = panels.map((p, i) => {
      const w = p.wide ? 48 : 24;
      const h = p.h ?? 15;
      if (x + w > 48) {
        x = 0;
        y += rowH;
        rowH = 0;
      }
      const panelIndex = String(i + 1);
      const out = { version: CORE, type: p.type, gridData: { x, y, w, h, i: panelIndex }, panelIndex, embeddableConfig: { enhancements: {} }, panelRefName: `panel_${panelIndex}` };
      x += w;
      rowH = Math.max(rowH, h);
      return out;
    });
    objects.push({
      type: 'dashboard',
      id: id('dashboard', name),
      attributes: {
        title,
        description,
        panelsJSON: JSON.stringify(panelsJSON),
        optionsJSON: JSON.stringify({ useMargins: true, syncColors: false, syncCursor: true, syncTooltips: false, hidePanelTitles: false }),
        timeRestore: false,
        version: 1,
        kibanaSavedObjectMeta: searchSource(NO_QUERY, false),
      },
      references: panels.map((p, i) => ({ name: `${i + 1}:panel_${i + 1}`, type: p.type, id: p.id })),
      coreMigrationVersion: CORE,
      typeMigrationVersion: '8.7.0',
    });
  };

  // Remoting sessions over time.
  const sessionsOverTime = vis('sessions-over-time', 'Remoting sessions over time, by kind', 'sessions', 'histogram', { addLegend: true, legendPosition: 'right' }, [
    { kind: 'count' },
    { kind: 'date_histogram', field: 'start', schema: 'segment' },
    { kind: 'terms', field: 'kind', size: 5, schema: 'group' },
  ]);
  const sessionsPaired = vis('sessions-paired', 'Sessions: paired across hosts or half', 'sessions', 'pie', { isDonut: true, addLegend: true }, [
    { kind: 'count' },
    { kind: 'terms', field: 'paired', size: 2, schema: 'segment' },
  ]);
  const sessionsByUser = vis('sessions-by-user', 'Sessions by user', 'sessions', 'table', { perPage: 20 }, [
    { kind: 'count' },
    { kind: 'terms', field: 'user.domain', size: 20, schema: 'bucket' },
    { kind: 'terms', field: 'user.name', size: 50, schema: 'bucket' },
  ]);
  const sessionsList = search('sessions', 'Remoting sessions', 'sessions', ['kind', 'source.host', 'destination.host', 'user.name', 'auth', 'paired', 'hoptrail.command_count', 'confidence', 'unpaired_reason']);
  dashboard('sessions', 'hoptrail: remoting sessions over time', 'PowerShell remoting / WinRM sessions rebuilt by hoptrail hunt or stream.', [
    { id: sessionsOverTime, type: 'visualization', wide: true },
    { id: sessionsPaired, type: 'visualization' },
    { id: sessionsByUser, type: 'visualization' },
    { id: sessionsList, type: 'search', wide: true, h: 20 },
  ]);

  // The hop table: source -> destination, user, authentication, kind.
  const hopOnly = q('type : "hop"', 'type');
  const hopTable = vis('hop-table', 'Hops: source -> destination, user, authentication, kind', 'hops', 'table', { perPage: 25, showTotal: true }, [
    { kind: 'count' },
    { kind: 'terms', field: 'source', size: 100, schema: 'bucket' },
    { kind: 'terms', field: 'destination', size: 100, schema: 'bucket' },
    { kind: 'terms', field: 'user', size: 50, schema: 'bucket' },
    { kind: 'terms', field: 'auth', size: 10, schema: 'bucket' },
    { kind: 'terms', field: 'kind', size: 10, schema: 'bucket' },
  ], hopOnly);
  const hopsOverTime = vis('hops-over-time', 'Hops over time, by destination', 'hops', 'histogram', { addLegend: true }, [
    { kind: 'count' },
    { kind: 'date_histogram', field: '@timestamp', schema: 'segment' },
    { kind: 'terms', field: 'destination', size: 10, schema: 'group' },
  ], hopOnly);
  const chains = search('chains', 'Chains (A -> B -> C) and fan-outs', 'hops', ['type', 'hosts', 'source', 'destinations', 'users', 'end'], q('type : "chain" or type : "fanout"', 'type'));
  const hopsList = search('hops', 'Hops', 'hops', ['source', 'destination', 'user', 'auth', 'kind', 'session_id'], hopOnly);
  dashboard('hops', 'hoptrail: hops', 'Lateral movement hops between hosts, with user, authentication and session kind; chains and fan-outs.', [
    { id: hopTable, type: 'visualization', wide: true, h: 18 },
    { id: hopsOverTime, type: 'visualization' },
    { id: chains, type: 'search' },
    { id: hopsList, type: 'search', wide: true, h: 18 },
  ]);

  // Findings by severity and ATT&CK technique.
  const bySeverity = vis('findings-by-severity', 'Findings by severity', 'findings', 'pie', { isDonut: true, addLegend: true }, [
    { kind: 'count' },
    { kind: 'terms', field: 'severity', size: 5, schema: 'segment' },
  ]);
  const byTechnique = vis('findings-by-technique', 'Findings by ATT&CK technique and severity', 'findings', 'histogram', { addLegend: true }, [
    { kind: 'count' },
    { kind: 'terms', field: 'attack', size: 30, schema: 'segment' },
    { kind: 'terms', field: 'severity', size: 5, schema: 'group' },
  ]);
  const byRule = vis('findings-by-rule', 'Findings by rule and host', 'findings', 'table', { perPage: 20 }, [
    { kind: 'count' },
    { kind: 'terms', field: 'rule', size: 50, schema: 'bucket' },
    { kind: 'terms', field: 'hosts', size: 50, schema: 'bucket' },
  ]);
  const findingsList = search('findings', 'Findings', 'findings', ['severity', 'title', 'attack', 'category', 'hosts', 'summary'], q('hoptrail.severity_rank >= 0', 'hoptrail.severity_rank'));
  dashboard('findings', 'hoptrail: findings', 'What hoptrail flagged: severity, MITRE ATT&CK technique, rule and host.', [
    { id: bySeverity, type: 'visualization' },
    { id: byTechnique, type: 'visualization' },
    { id: byRule, type: 'visualization' },
    { id: findingsList, type: 'search', h: 20 },
  ]);

  // Commands run in remote sessions.
  const cmdSessions = search('session-commands', 'Commands run in remote sessions', 'sessions', ['destination.host', 'user.name', 'kind', 'commands.text'], q('commands.side : "destination"', 'commands.side'));
  const topCommands = vis('top-commands', 'Most frequent command lines in remote sessions', 'sessions', 'table', { perPage: 20 }, [
    { kind: 'count' },
    { kind: 'terms', field: 'commands.text.keyword', size: 50, schema: 'bucket' },
  ]);
  const psEvents = search(
    'powershell-events',
    'PowerShell pipelines and script blocks (events)',
    'events',
    ['host.name', 'user.name', 'event.code', 'powershell.command.value', 'powershell.file.script_block_text', 'process.command_line'],
    q('powershell.command.value : * or powershell.file.script_block_text : * or powershell.host.name : "ServerRemoteHost"', 'powershell.command.value', 'powershell.file.script_block_text', 'powershell.host.name'),
  );
  dashboard('commands', 'hoptrail: commands in remote sessions', 'Command lines, pipelines and script blocks run through PowerShell remoting.', [
    { id: cmdSessions, type: 'search', wide: true, h: 20 },
    { id: topCommands, type: 'visualization' },
    { id: psEvents, type: 'search', h: 20 },
  ]);

  // Host drill-down: pick a host; event panels follow the control's host.name filter.
  const hostPicker = control('host-picker', 'Host', 'events', 'host.name', 'Host (host.name)');
  const hostTimeline = vis('host-events-over-time', 'Events on the host over time, by channel', 'events', 'histogram', { addLegend: true }, [
    { kind: 'count' },
    { kind: 'date_histogram', field: '@timestamp', schema: 'segment' },
    { kind: 'terms', field: 'winlog.channel', size: 10, schema: 'group' },
  ]);
  const hostCodes = vis('host-event-codes', 'Event IDs on the host', 'events', 'table', { perPage: 20 }, [
    { kind: 'count' },
    { kind: 'terms', field: 'winlog.channel', size: 20, schema: 'bucket' },
    { kind: 'terms', field: 'event.code', size: 50, schema: 'bucket' },
  ]);
  const hostLogons = vis('host-logons', 'Logons and remote peers on the host', 'events', 'table', { perPage: 20 }, [
    { kind: 'count' },
    { kind: 'terms', field: 'user.name', size: 30, schema: 'bucket' },
    { kind: 'terms', field: 'winlog.logon.type', size: 10, schema: 'bucket' },
    { kind: 'terms', field: 'source.ip', size: 30, schema: 'bucket' },
    { kind: 'cardinality', field: 'winlog.logon.id' },
  ], q('event.code : "4624" or event.code : "4648" or event.code : "4672"', 'event.code'));
  const hostRemoting = search(
    'host-remoting-events',
    'WinRM and PowerShell remoting events on the host',
    'events',
    ['host.name', 'event.code', 'winrm.operation', 'winrm.target', 'winrm.user', 'source.ip', 'user.name', 'process.command_line'],
    q('winlog.channel : "Microsoft-Windows-WinRM/Operational" or winrm.operation : * or powershell.host.name : "ServerRemoteHost"', 'winlog.channel', 'winrm.operation', 'powershell.host.name'),
  );
  dashboard('host', 'hoptrail: host drill-down', 'Pick a host: its events over time, event IDs, logons and WinRM / remoting activity.', [
    { id: hostPicker, type: 'visualization', h: 6, wide: true },
    { id: hostTimeline, type: 'visualization', wide: true },
    { id: hostCodes, type: 'visualization' },
    { id: hostLogons, type: 'visualization' },
    { id: hostRemoting, type: 'search', wide: true, h: 20 },
  ]);

  return { objects, fields };
}

/** The NDJSON Kibana's saved-objects import takes: one object per line. */
export function toNdjson(objects: readonly SavedObject[]): string {
  return objects.map((o) => JSON.stringify(o)).join('\n') + '\n';
}
