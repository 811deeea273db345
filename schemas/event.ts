// The normalized event: one shape for every source (EVTX, Winlogbeat 6/7/8, NXLog, Export-WinEvents).
// ECS 8 names and types where ECS has the field; `winlog.*` follows Winlogbeat's field reference; `powershell.*`
// follows the Elastic PowerShell integration; `winrm.*` and `hoptrail.*` are ours (see schemas/README.md).
// The zod schemas are the single source of the TypeScript types.
import { z } from 'zod';
import { INPUT_FORMATS, SCHEMA_VERSION } from './values.js';

export { SCHEMA_VERSION };

const str = z.string().min(1);
const int = z.number().int();
const port = z.number().int().min(0).max(65535);

/** Every input shape hoptrail reads. */
export const InputFormat = z.enum(INPUT_FORMATS);
export type InputFormat = z.infer<typeof InputFormat>;

/** Where the event came from: enough to find the original bytes or message again. */
export const Provenance = z.strictObject({
  format: InputFormat,
  /** The file given on the command line (or the archive holding the entry). */
  file: str.optional(),
  /** Member path inside a .zip / .tar.gz archive. */
  entry: str.optional(),
  /** Byte offset of the record: in the EVTX file, or in the (decompressed) JSON text. */
  offset: int.min(0).optional(),
  /** EVTX chunk number. */
  chunk: int.min(0).optional(),
  /** 1-based line of a JSON-lines file, or 0-based index of an element of a JSON array. */
  line: int.min(1).optional(),
  index: int.min(0).optional(),
  /** Recovered from EVTX chunk slack space (a deleted or overwritten remnant). */
  recovered: z.boolean().optional(),
  kafka: z.strictObject({ topic: str, partition: int.min(0), offset: int.min(0) }).optional(),
});
export type Provenance = z.infer<typeof Provenance>;

/** What clock repair did to this event's time (absent when the source clock is trusted UTC). */
export const ClockRepair = z.strictObject({
  /** The time as the source wrote it, before repair. */
  original: str,
  /** Minutes added to get UTC (local-time sources): UTC = local - offset; this is the offset of local to UTC. */
  tz_offset_minutes: int.optional(),
  /** How the zone was found: learned from Sysmon UtcTime on the same host/source, or given with --tz. */
  tz_source: z.enum(['sysmon-host', 'sysmon-source', 'option']).optional(),
  /** Hours added to undo the 12-hour export bug (0 or 12, or -12 across midnight). */
  hours_added: int.optional(),
  /** How the AM/PM half was chosen. */
  half_source: z.enum(['sysmon-host', 'sysmon-source', 'export-time']).optional(),
  /** True when no repair was possible: the time is as written and must not be trusted to the hour. */
  unrepaired: z.boolean().optional(),
  reason: str.optional(),
});
export type ClockRepair = z.infer<typeof ClockRepair>;

const StringMap = z.record(z.string(), z.string());

export const NormalizedEvent = z.strictObject({
  /** Event time, true UTC, ISO-8601 with milliseconds and `Z`. */
  '@timestamp': z.iso.datetime({ offset: false, precision: 3 }),
  ecs: z.strictObject({ version: z.literal('8.11.0') }),
  event: z.strictObject({
    /** The event ID as a string, as ECS wants it. */
    code: str,
    provider: str,
    action: str.optional(),
    kind: z.enum(['event', 'alert', 'state']),
    category: z.array(z.enum(['authentication', 'configuration', 'driver', 'file', 'host', 'iam', 'network', 'process', 'registry', 'session', 'web'])).optional(),
    type: z.array(z.enum(['access', 'admin', 'allowed', 'change', 'connection', 'creation', 'deletion', 'denied', 'end', 'error', 'group', 'info', 'installation', 'protocol', 'start', 'user'])).optional(),
    outcome: z.enum(['success', 'failure', 'unknown']).optional(),
    /** When the record was written (EVTX record header), when known. */
    created: z.iso.datetime({ offset: false }).optional(),
    /** When hoptrail normalized it, or when the collector received it. */
    ingested: z.iso.datetime({ offset: false }).optional(),
  }),
  host: z.strictObject({
    /** Lower-case FQDN when the source gives one, else the lower-case short name. */
    name: str,
    /** Lower-case short name. */
    hostname: str,
  }),
  log: z.strictObject({
    level: str.optional(),
    file: z.strictObject({ path: str }).optional(),
    /** Byte offset of the record in log.file.path (decompressed text for JSON). */
    offset: int.min(0).optional(),
  }),
  message: z.string().optional(),
  winlog: z.strictObject({
    channel: str,
    computer_name: str,
    record_id: int.min(0).optional(),
    provider_name: str,
    provider_guid: str.optional(),
    event_id: int.min(0),
    /** The record's time exactly as the source gave it (full precision; 7 digits for EVTX). */
    time_created: str,
    event_data: StringMap.optional(),
    user_data: StringMap.optional(),
    process: z.strictObject({ pid: int.optional(), thread: z.strictObject({ id: int }).optional() }).optional(),
    activity_id: str.optional(),
    related_activity_id: str.optional(),
    user: z.strictObject({ identifier: str, name: str.optional(), domain: str.optional() }).optional(),
    /** Hex as in EVTX (`0x8020000000000000`) when the source gives a mask; names when it gives names. */
    keywords: z.union([str, z.array(str)]).optional(),
    level: int.optional(),
    opcode: z.union([int, str]).optional(),
    task: z.union([int, str]).optional(),
    version: int.optional(),
    logon: z.strictObject({
      /** Lower-case hex, `0x` prefix, no padding. */
      id: str.optional(),
      /** Logon type name as Winlogbeat renders it (`Network`, `RemoteInteractive`...). */
      type: str.optional(),
      /** Logon type number (3 for Network). */
      type_code: int.optional(),
      /** Kerberos/NTLM logon GUID, upper-case in braces. */
      guid: str.optional(),
      /** Authentication package (Kerberos, NTLM, Negotiate). */
      auth_package: str.optional(),
      /** 4624's linked logon ID. */
      linked_id: str.optional(),
    }).optional(),
  }),
  user: z.strictObject({
    name: str.optional(),
    domain: str.optional(),
    id: str.optional(),
    /** The target account of account-management events (4720, 4722, 4724, 4738, 4732). */
    target: z.strictObject({ name: str.optional(), domain: str.optional(), id: str.optional() }).optional(),
  }).optional(),
  source: z.strictObject({
    ip: str.optional(), port: port.optional(), domain: str.optional(),
    user: z.strictObject({ name: str.optional(), domain: str.optional() }).optional(),
  }).optional(),
  destination: z.strictObject({
    ip: str.optional(), port: port.optional(), domain: str.optional(),
    user: z.strictObject({ name: str.optional(), domain: str.optional() }).optional(),
  }).optional(),
  process: z.strictObject({
    pid: int.optional(),
    executable: str.optional(),
    name: str.optional(),
    command_line: str.optional(),
    entity_id: str.optional(),
    parent: z.strictObject({ pid: int.optional(), executable: str.optional(), name: str.optional(), command_line: str.optional(), entity_id: str.optional() }).optional(),
  }).optional(),
  network: z.strictObject({
    transport: str.optional(),
    direction: z.enum(['inbound', 'outbound', 'internal', 'external', 'unknown']).optional(),
  }).optional(),
  service: z.strictObject({ name: str.optional(), executable: str.optional(), state: str.optional(), start_type: str.optional() }).optional(),
  file: z.strictObject({ path: str.optional() }).optional(),
  dns: z.strictObject({ question: z.strictObject({ name: str }).optional(), answers: str.optional() }).optional(),
  rule: z.strictObject({ id: str.optional(), name: str.optional() }).optional(),
  powershell: z.strictObject({
    /** Shell ID (`Microsoft.PowerShell`). */
    id: str.optional(),
    runspace_id: str.optional(),
    pipeline_id: str.optional(),
    sequence: int.optional(),
    total: int.optional(),
    command: z.strictObject({
      name: str.optional(),
      type: str.optional(),
      path: str.optional(),
      /** The whole command line of 800/4103 (ECS has only process.command_line for processes). */
      value: str.optional(),
      invocation_details: z.array(z.strictObject({ type: str, related_command: str.optional(), name: str.optional(), value: z.string() })).optional(),
    }).optional(),
    file: z.strictObject({
      script_block_id: str.optional(),
      script_block_text: z.string().optional(),
      path: str.optional(),
    }).optional(),
    engine: z.strictObject({ version: str.optional(), previous_state: str.optional(), new_state: str.optional() }).optional(),
    provider: z.strictObject({ name: str.optional(), new_state: str.optional() }).optional(),
    /** `Host Name` / `HostName`: `ServerRemoteHost` on the receiving end of remoting. */
    host: z.strictObject({ name: str.optional(), application: str.optional(), version: str.optional(), id: str.optional() }).optional(),
    /** The `User` of the context (DOMAIN\\name). */
    user: str.optional(),
    connected_user: str.optional(),
    sequence_number: int.optional(),
  }).optional(),
  winrm: z.strictObject({
    /** WinRM 6: `DC01.mssentinel.local/wsman?PSVersion=5.1...` as written. */
    connection: str.optional(),
    /** The host part of the connection string (lower case). */
    target: str.optional(),
    /** The URI part (`/wsman?PSVersion=5.1.19041.1320`). */
    uri: str.optional(),
    resource_uri: str.optional(),
    shell_id: str.optional(),
    command_id: str.optional(),
    /** 169: `NTLM`, `Kerberos`, `Negotiate`... */
    authentication_mechanism: str.optional(),
    /** 169: the authenticated user. */
    user: str.optional(),
    client_ip: str.optional(),
    /** A short name for what the event records (`create_session`, `create_shell`, `run_command`...). */
    operation: str.optional(),
    error_code: str.optional(),
    option: z.strictObject({ code: str.optional(), name: str.optional(), value: z.string().optional() }).optional(),
  }).optional(),
  /** Ours: provenance, clock repair, schema version. */
  hoptrail: z.strictObject({
    schema_version: z.literal(SCHEMA_VERSION),
    provenance: Provenance,
    clock: ClockRepair.optional(),
  }),
});
export type NormalizedEvent = z.infer<typeof NormalizedEvent>;

/** An input that could not be normalized: never silently dropped. */
export const Reject = z.strictObject({
  /** File (and archive member) or topic/partition the input came from. */
  source: str,
  /** Line, element index, or byte offset, as text (`line 12`, `index 3`, `offset 4096`). */
  position: str,
  reason: str,
  /** The original text, cut at 64 KiB. */
  original: z.string(),
  format: InputFormat.optional(),
});
export type Reject = z.infer<typeof Reject>;
