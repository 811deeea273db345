// Test-only builder of normalized events, for rules whose events the shared corpus and datasets lack (the
// WinRM posture rules: Basic/CredSSP/NTLM 169, firewall 2004/2005 on 5985, 4732 Remote Management Users,
// TrustedHosts and Enable-PSRemoting command text, WinRM 161/162 failures) and for hostile strings in report
// tests. Every event is checked against the real zod schema, so a built event is one the normalizer could
// have produced; field choices follow schemas/README.md. These are synthetic: tests that use them say so.
import { NormalizedEvent, SCHEMA_VERSION } from '../../schemas/event.js';

export interface EventSpec {
  host: string;
  channel: string;
  provider: string;
  id: number;
  time: string;
  record?: number;
  data?: Record<string, string>;
  /** Any other top-level normalized fields (process, powershell, winrm, user, source, destination...). */
  extra?: Partial<Omit<NormalizedEvent, 'winlog'>> & { winlog?: Partial<NormalizedEvent['winlog']> };
}

let nextRecord = 1;

/** A normalized event, validated with the schema; provenance points at a fictitious `synthetic.evtx`. */
export function buildEvent(s: EventSpec): NormalizedEvent {
  const record = s.record ?? nextRecord++;
  const { winlog: wl, ...rest } = s.extra ?? {};
  const e = {
    '@timestamp': s.time,
    ecs: { version: '8.11.0' },
    event: { code: String(s.id), provider: s.provider, kind: 'event' },
    host: { name: s.host.toLowerCase(), hostname: s.host.toLowerCase().split('.')[0] },
    log: {},
    ...rest,
    winlog: {
      channel: s.channel, computer_name: s.host, provider_name: s.provider, event_id: s.id, record_id: record,
      time_created: s.time, ...(s.data ? { event_data: s.data } : {}), ...wl,
    },
    hoptrail: { schema_version: SCHEMA_VERSION, provenance: { format: 'evtx', file: 'synthetic.evtx', offset: record * 1024 } },
  };
  return NormalizedEvent.parse(e);
}

const PS_OP = 'Microsoft-Windows-PowerShell/Operational';

/** A 4104 script block on a host (in process pid), as logged by PowerShell/Operational. */
export function scriptBlock(host: string, time: string, text: string, pid = 4242, remote = false): NormalizedEvent {
  return buildEvent({
    host, channel: PS_OP, provider: 'Microsoft-Windows-PowerShell', id: 4104, time,
    extra: {
      winlog: { process: { pid } },
      powershell: { file: { script_block_text: text, script_block_id: '00000000-0000-0000-0000-000000000001' }, sequence: 1, total: 1, ...(remote ? { host: { name: 'ServerRemoteHost' } } : {}) },
    },
  });
}

/** A 4688 process creation, optionally as a child of wsmprovhost.exe (that is, inside a remote session). */
export function processCreate(host: string, time: string, commandLine: string, opts: { pid?: number; parent?: string; parentPid?: number; user?: string } = {}): NormalizedEvent {
  const exe = commandLine.match(/^"?([^"]+?\.exe)/i)?.[1] ?? 'C:\\Windows\\System32\\cmd.exe';
  return buildEvent({
    host, channel: 'Security', provider: 'Microsoft-Windows-Security-Auditing', id: 4688, time,
    extra: {
      process: {
        pid: opts.pid ?? 5000, executable: exe, name: exe.split('\\').pop() ?? exe, command_line: commandLine,
        parent: { pid: opts.parentPid ?? 4000, name: opts.parent ?? 'explorer.exe', executable: `C:\\Windows\\System32\\${opts.parent ?? 'explorer.exe'}` },
      },
      user: { name: opts.user ?? 'alice', domain: 'CORP' },
    },
  });
}

export const WINRM_OP = 'Microsoft-Windows-WinRM/Operational';
export const WINRM_PROVIDER = 'Microsoft-Windows-WinRM';
