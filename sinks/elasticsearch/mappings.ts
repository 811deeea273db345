// Explicit, ECS-compatible mappings of hoptrail's four index families: events (time series), sessions,
// hops and findings (entities, documents replaced as they evolve). Every field is declared; `dynamic: false`
// keeps any stray field in _source but out of the mapping, so no input can explode it.
//
// Type choices, and why:
//   - keyword fields get ignore_above 1024: a huge attacker-made value (a host name, a connection string)
//     is kept in _source but not indexed, instead of failing the whole document on Lucene's term limit.
//   - command and script text is `text` (search by words and phrases) with a `.keyword` subfield
//     (ignore_above 8191: exact match, aggregations, wildcard search) for the usual sizes.
//   - ip fields ignore malformed values: Windows writes "-", "LOCAL" or "fe80::1%12" into IP fields, and an
//     event must not be lost for that. Record ids and ports stay strict: a non-number there is a real bug.
//   - winlog.time_created is date_nanos (EVTX carries 100 ns); values without a zone or in a form that
//     is not ISO (collectors' local "2020-08-06 11:56:04") are left unindexed rather than read as UTC.
//   - winlog.event_data/user_data are `flattened` (one field, any keys) when the server has that type,
//     else stored but not indexed.
import type { Client } from '@elastic/elasticsearch';
import type { IndexFamily } from './templates.js';

type Mapping = Record<string, unknown>;

const kw = (ignoreAbove = 1024): Mapping => ({ type: 'keyword', ignore_above: ignoreAbove });
const long: Mapping = { type: 'long' };
const bool: Mapping = { type: 'boolean' };
const date: Mapping = { type: 'date' };
const lenientDate: Mapping = { type: 'date', ignore_malformed: true };
const ip: Mapping = { type: 'ip', ignore_malformed: true };
/** Command and script text: words, plus exact value for the usual lengths. */
const cmdText: Mapping = { type: 'text', fields: { keyword: kw(8191) } };
const obj = (properties: Record<string, Mapping>): Mapping => ({ properties });

export interface FieldSupport {
  /** The `flattened` field type (x-pack core on the default distribution; in server on 8.x). */
  flattened: boolean;
}

/** Asks the server, without creating anything, whether it knows the optional field types we use. */
export async function detectFieldSupport(client: Client): Promise<FieldSupport> {
  try {
    await client.transport.request(
      {
        method: 'POST',
        path: '/_index_template/_simulate',
        body: { index_patterns: ['hoptrail-probe-none-*'], template: { mappings: { properties: { f: { type: 'flattened' } } } } },
      },
      { requestTimeout: 10_000 },
    );
    return { flattened: true };
  } catch (e) {
    const status = (e as { statusCode?: number }).statusCode;
    // 400 mapper_parsing_exception: the type does not exist. Anything else (unreachable...) is not an answer.
    if (status === 400) return { flattened: false };
    throw e;
  }
}

function keyValueMap(support: FieldSupport): Mapping {
  return support.flattened ? { type: 'flattened', ignore_above: 1024 } : { type: 'object', enabled: false };
}

const userRef = obj({ name: kw(), domain: kw() });
const endpoint = obj({ ip, port: long, domain: kw(), user: userRef });
const processBase = { pid: long, executable: kw(), name: kw(), command_line: cmdText, entity_id: kw() };

/** The normalized event (schemas/event.ts), field by field. */
export function eventMappings(support: FieldSupport): Mapping {
  return {
    dynamic: false,
    properties: {
      '@timestamp': date,
      message: { type: 'text' },
      ecs: obj({ version: kw() }),
      event: obj({
        code: kw(),
        provider: kw(),
        action: kw(),
        kind: kw(),
        category: kw(),
        type: kw(),
        outcome: kw(),
        created: date,
        ingested: date,
      }),
      host: obj({ name: kw(), hostname: kw() }),
      log: obj({ level: kw(), file: obj({ path: kw() }), offset: long }),
      winlog: obj({
        channel: kw(),
        computer_name: kw(),
        record_id: long,
        provider_name: kw(),
        provider_guid: kw(),
        // Winlogbeat maps the event id as keyword: it is an identifier, not a quantity.
        event_id: kw(),
        time_created: { type: 'date_nanos', format: 'strict_date_time||strict_date_time_no_millis', ignore_malformed: true },
        event_data: keyValueMap(support),
        user_data: keyValueMap(support),
        process: obj({ pid: long, thread: obj({ id: long }) }),
        activity_id: kw(),
        related_activity_id: kw(),
        user: obj({ identifier: kw(), name: kw(), domain: kw() }),
        keywords: kw(),
        level: long,
        // Numbers in EVTX, names in some collectors: keyword takes both.
        opcode: kw(),
        task: kw(),
        version: long,
        logon: obj({ id: kw(), type: kw(), type_code: long, guid: kw(), auth_package: kw(), linked_id: kw() }),
      }),
      user: obj({ name: kw(), domain: kw(), id: kw(), target: obj({ name: kw(), domain: kw(), id: kw() }) }),
      source: endpoint,
      destination: endpoint,
      process: obj({ ...processBase, parent: obj(processBase) }),
      network: obj({ transport: kw(), direction: kw() }),
      service: obj({ name: kw(), executable: kw(), state: kw(), start_type: kw() }),
      file: obj({ path: kw() }),
      dns: obj({ question: obj({ name: kw() }), answers: kw() }),
      rule: obj({ id: kw(), name: kw() }),
      powershell: obj({
        id: kw(),
        runspace_id: kw(),
        pipeline_id: kw(),
        sequence: long,
        total: long,
        command: obj({
          name: kw(),
          type: kw(),
          path: kw(),
          value: cmdText,
          invocation_details: obj({ type: kw(), related_command: kw(), name: kw(), value: cmdText }),
        }),
        file: obj({ script_block_id: kw(), script_block_text: cmdText, path: kw() }),
        engine: obj({ version: kw(), previous_state: kw(), new_state: kw() }),
        provider: obj({ name: kw(), new_state: kw() }),
        host: obj({ name: kw(), application: cmdText, version: kw(), id: kw() }),
        user: kw(),
        connected_user: kw(),
        sequence_number: long,
      }),
      winrm: obj({
        connection: kw(),
        target: kw(),
        uri: kw(),
        resource_uri: kw(),
        shell_id: kw(),
        command_id: kw(),
        authentication_mechanism: kw(),
        user: kw(),
        client_ip: ip,
        operation: kw(),
        error_code: kw(),
        option: obj({ code: kw(), name: kw(), value: kw() }),
      }),
      hoptrail: obj({
        schema_version: kw(),
        provenance: obj({
          format: kw(),
          file: kw(),
          entry: kw(),
          offset: long,
          chunk: long,
          line: long,
          index: long,
          recovered: bool,
          kafka: obj({ topic: kw(), partition: long, offset: long }),
        }),
        clock: obj({
          original: kw(),
          tz_offset_minutes: long,
          tz_source: kw(),
          hours_added: long,
          half_source: kw(),
          unrepaired: bool,
          reason: kw(),
        }),
      }),
    },
  };
}

const evidence = obj({
  host: kw(),
  channel: kw(),
  event_id: kw(),
  time: lenientDate,
  record_id: long,
  file: kw(),
  entry: kw(),
  line: long,
  offset: long,
  kafka: obj({ topic: kw(), partition: long, offset: long }),
  side: kw(),
});

/** detectors/session.ts Session, one document per session_id. */
export function sessionMappings(): Mapping {
  return {
    dynamic: false,
    properties: {
      session_id: kw(),
      kind: kw(),
      paired: bool,
      source: obj({ host: kw(), ip, user: kw() }),
      destination: obj({ host: kw(), ip }),
      user: obj({ name: kw(), domain: kw(), id: kw() }),
      auth: kw(),
      logon_id: kw(),
      start: date,
      end: date,
      commands: obj({ time: lenientDate, host: kw(), side: kw(), type: kw(), text: cmdText, partial: bool }),
      confidence: { type: 'float' },
      evidence,
      unpaired_reason: kw(),
      // Added by the sink: how many commands, for sorting and charts without a script.
      hoptrail: obj({ command_count: long }),
    },
  };
}

/** Hop, Chain and FanOut records (hops.ndjson), told apart by `type`; hops carry their session's kind/auth. */
export function hopMappings(): Mapping {
  return {
    dynamic: false,
    properties: {
      '@timestamp': date,
      type: kw(),
      source: kw(),
      destination: kw(),
      destinations: kw(),
      hosts: kw(),
      user: kw(),
      users: kw(),
      time: date,
      start: date,
      end: date,
      session_id: kw(),
      session_ids: kw(),
      kind: kw(),
      auth: kw(),
    },
  };
}

/** detectors/findings/types.ts Finding, one document per finding_id. */
export function findingMappings(): Mapping {
  return {
    dynamic: false,
    properties: {
      finding_id: kw(),
      rule: kw(),
      title: { type: 'text', fields: { keyword: kw() } },
      severity: kw(),
      category: kw(),
      attack: kw(),
      summary: { type: 'text' },
      // A finding without evidence may carry an empty time: keep the document, skip the field.
      start: lenientDate,
      end: lenientDate,
      hosts: kw(),
      session_ids: kw(),
      hops: obj({ source: kw(), destination: kw(), user: kw(), time: lenientDate, session_id: kw() }),
      evidence,
      evidence_dropped: long,
      decoded: cmdText,
      // Added by the sink: 0 info .. 4 critical, so severities sort and filter as numbers.
      hoptrail: obj({ severity_rank: long }),
    },
  };
}

/** Bump a family's version when its mapping changes incompatibly (entity families get a new index). */
export const FAMILY_VERSIONS = { events: 1, sessions: 1, hops: 1, findings: 1 } as const;
export type FamilyName = keyof typeof FAMILY_VERSIONS;

export interface HoptrailFamilies {
  events: IndexFamily;
  sessions: IndexFamily;
  hops: IndexFamily;
  findings: IndexFamily;
}

export function hoptrailFamilies(support: FieldSupport = { flattened: true }): HoptrailFamilies {
  return {
    events: { name: 'events', kind: 'timeseries', version: FAMILY_VERSIONS.events, mappings: eventMappings(support) },
    sessions: { name: 'sessions', kind: 'entity', version: FAMILY_VERSIONS.sessions, mappings: sessionMappings() },
    hops: { name: 'hops', kind: 'entity', version: FAMILY_VERSIONS.hops, mappings: hopMappings() },
    findings: { name: 'findings', kind: 'entity', version: FAMILY_VERSIONS.findings, mappings: findingMappings() },
  };
}

/**
 * Every searchable field of a mapping with its type, dotted, multi-fields included
 * (`process.command_line.keyword`). Objects are not listed, their leaves are.
 */
export function fieldTypes(mappings: Mapping): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (props: Record<string, Mapping>, prefix: string): void => {
    for (const [name, m] of Object.entries(props)) {
      const path = prefix + name;
      if (m.properties) walk(m.properties as Record<string, Mapping>, path + '.');
      else if (typeof m.type === 'string' && m.type !== 'object') {
        out.set(path, m.type);
        for (const [sub, sm] of Object.entries((m.fields ?? {}) as Record<string, Mapping>)) out.set(`${path}.${sub}`, String(sm.type));
      }
    }
  };
  walk((mappings.properties ?? {}) as Record<string, Mapping>, '');
  return out;
}
