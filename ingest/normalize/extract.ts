// Field extraction: from a record's (cleaned) event data to ECS / winlog / powershell / winrm fields, per
// channel and event ID. One small function per family; each only reads `data` and writes into `ev`.
import type { NormalizedEvent } from '../../schemas/event.js';
import {
  LOGON_TYPES, TRANSPORTS, baseName, cleanTrim, hexId, ip, splitAccount, toInt, toPort, utf16HexToText,
} from './values.js';
import { lf, messageDetails, parseClassicContext, parseContextInfo, parseInvocationDetails } from './powershell.js';

type Ev = NormalizedEvent;
type Data = Record<string, string>;
type Cat = NonNullable<Ev['event']['category']>[number];
type Typ = NonNullable<Ev['event']['type']>[number];

// ---- small writers: never write undefined, create sub-objects only when needed ----

function put<T extends object, K extends keyof T>(o: T, k: K, v: T[K] | undefined): void {
  if (v !== undefined) o[k] = v;
}
function user(ev: Ev): NonNullable<Ev['user']> { return (ev.user ??= {}); }
function proc(ev: Ev): NonNullable<Ev['process']> { return (ev.process ??= {}); }
function parent(ev: Ev): NonNullable<NonNullable<Ev['process']>['parent']> { return (proc(ev).parent ??= {}); }
function src(ev: Ev): NonNullable<Ev['source']> { return (ev.source ??= {}); }
function dst(ev: Ev): NonNullable<Ev['destination']> { return (ev.destination ??= {}); }
function logon(ev: Ev): NonNullable<Ev['winlog']['logon']> { return (ev.winlog.logon ??= {}); }
function net(ev: Ev): NonNullable<Ev['network']> { return (ev.network ??= {}); }
function ps(ev: Ev): NonNullable<Ev['powershell']> { return (ev.powershell ??= {}); }
function winrm(ev: Ev): NonNullable<Ev['winrm']> { return (ev.winrm ??= {}); }
function svc(ev: Ev): NonNullable<Ev['service']> { return (ev.service ??= {}); }

function setUser(ev: Ev, name?: string, domain?: string, id?: string): void {
  const n = cleanTrim(name), d = cleanTrim(domain), i = cleanTrim(id);
  if (n === undefined && d === undefined && i === undefined) return;
  const u = user(ev);
  put(u, 'name', n);
  put(u, 'domain', d);
  put(u, 'id', i);
}
function setTargetUser(ev: Ev, name?: string, domain?: string, id?: string): void {
  const n = cleanTrim(name), d = cleanTrim(domain), i = cleanTrim(id);
  if (n === undefined && d === undefined && i === undefined) return;
  const t: NonNullable<NonNullable<Ev['user']>['target']> = {};
  put(t, 'name', n);
  put(t, 'domain', d);
  put(t, 'id', i);
  user(ev).target = t;
}
function setProcess(ev: Ev, pid: number | undefined, exe: string | undefined, cmd?: string, entity?: string): void {
  const e = cleanTrim(exe), c = cleanTrim(cmd), g = cleanTrim(entity);
  if (pid === undefined && e === undefined && c === undefined && g === undefined) return;
  const p = proc(ev);
  put(p, 'pid', pid);
  put(p, 'executable', e);
  put(p, 'name', baseName(e));
  put(p, 'command_line', c);
  put(p, 'entity_id', g);
}
function setParent(ev: Ev, pid: number | undefined, exe: string | undefined, cmd?: string, entity?: string): void {
  const e = cleanTrim(exe), c = cleanTrim(cmd), g = cleanTrim(entity);
  if (pid === undefined && e === undefined && c === undefined && g === undefined) return;
  const p = parent(ev);
  put(p, 'pid', pid);
  put(p, 'executable', e);
  put(p, 'name', baseName(e));
  put(p, 'command_line', c);
  put(p, 'entity_id', g);
}
function setLogonType(ev: Ev, v: string | undefined): void {
  const n = toInt(cleanTrim(v));
  if (n === undefined) return;
  const l = logon(ev);
  l.type_code = n;
  put(l, 'type', LOGON_TYPES[n]);
}
function setLogonId(ev: Ev, v: string | undefined): void {
  const id = hexId(v);
  if (id !== undefined) logon(ev).id = id;
}
function setSource(ev: Ev, addr?: string, port?: string, domain?: string): void {
  const a = ip(addr), p = toPort(port), d = cleanTrim(domain);
  if (a === undefined && p === undefined && d === undefined) return;
  const s = src(ev);
  put(s, 'ip', a);
  put(s, 'port', p);
  put(s, 'domain', d);
}
function setDest(ev: Ev, addr?: string, port?: string, domain?: string): void {
  const a = ip(addr), p = toPort(port), d = cleanTrim(domain);
  if (a === undefined && p === undefined && d === undefined) return;
  const s = dst(ev);
  put(s, 'ip', a);
  put(s, 'port', p);
  put(s, 'domain', d);
}
function classify(ev: Ev, action: string, category?: Cat[], type?: Typ[]): void {
  ev.event.action = action;
  if (category) ev.event.category = category;
  if (type) ev.event.type = type;
}
function subjectUser(ev: Ev, d: Data): void {
  setUser(ev, d.SubjectUserName, d.SubjectDomainName, d.SubjectUserSid);
}

// ---- Security ----

function security(ev: Ev, id: number, d: Data): void {
  switch (id) {
    case 4624: case 4625: {
      setUser(ev, d.TargetUserName, d.TargetDomainName, d.TargetUserSid);
      setLogonId(ev, d.TargetLogonId);
      setLogonType(ev, d.LogonType);
      const l = logon(ev);
      put(l, 'guid', cleanTrim(d.LogonGuid)?.toUpperCase());
      put(l, 'auth_package', cleanTrim(d.AuthenticationPackageName));
      const linked = hexId(d.TargetLinkedLogonId);
      if (linked !== undefined && linked !== '0x0') l.linked_id = linked;
      if (l.guid === '{00000000-0000-0000-0000-000000000000}') delete l.guid;
      setSource(ev, d.IpAddress, d.IpPort, d.WorkstationName);
      setProcess(ev, toInt(cleanTrim(d.ProcessId)) || undefined, d.ProcessName);
      classify(ev, id === 4624 ? 'logged-in' : 'logon-failed', ['authentication'], ['start']);
      ev.event.outcome = id === 4624 ? 'success' : 'failure';
      return;
    }
    case 4634: case 4647:
      setUser(ev, d.TargetUserName, d.TargetDomainName, d.TargetUserSid);
      setLogonId(ev, d.TargetLogonId);
      setLogonType(ev, d.LogonType);
      classify(ev, id === 4634 ? 'logged-out' : 'user-initiated-logout', ['authentication'], ['end']);
      return;
    case 4648:
      subjectUser(ev, d);
      setLogonId(ev, d.SubjectLogonId);
      put(logon(ev), 'guid', cleanTrim(d.LogonGuid)?.toUpperCase());
      if (ev.winlog.logon?.guid === '{00000000-0000-0000-0000-000000000000}') delete ev.winlog.logon.guid;
      setDest(ev, d.IpAddress, d.IpPort, d.TargetServerName);
      {
        const n = cleanTrim(d.TargetUserName), dm = cleanTrim(d.TargetDomainName);
        if (n !== undefined || dm !== undefined) {
          const u: { name?: string; domain?: string } = {};
          put(u, 'name', n);
          put(u, 'domain', dm);
          dst(ev).user = u;
        }
      }
      setProcess(ev, toInt(cleanTrim(d.ProcessId)) || undefined, d.ProcessName);
      classify(ev, 'logged-in-explicit', ['authentication'], ['start']);
      return;
    case 4672:
      subjectUser(ev, d);
      setLogonId(ev, d.SubjectLogonId);
      classify(ev, 'logged-in-special', ['iam'], ['admin']);
      return;
    case 4688:
      subjectUser(ev, d);
      setLogonId(ev, d.SubjectLogonId);
      setProcess(ev, toInt(cleanTrim(d.NewProcessId)), d.NewProcessName, d.CommandLine);
      setParent(ev, toInt(cleanTrim(d.ProcessId)), d.ParentProcessName);
      classify(ev, 'created-process', ['process'], ['start']);
      return;
    case 4689:
      subjectUser(ev, d);
      setLogonId(ev, d.SubjectLogonId);
      setProcess(ev, toInt(cleanTrim(d.ProcessId)), d.ProcessName);
      classify(ev, 'exited-process', ['process'], ['end']);
      return;
    case 4720: case 4722: case 4724: case 4738: case 4726: case 4725:
      subjectUser(ev, d);
      setLogonId(ev, d.SubjectLogonId);
      setTargetUser(ev, d.TargetUserName, d.TargetDomainName, d.TargetSid);
      classify(ev, ({ 4720: 'added-user-account', 4722: 'enabled-user-account', 4724: 'reset-password', 4738: 'modified-user-account', 4725: 'disabled-user-account', 4726: 'deleted-user-account' } as Record<number, string>)[id], ['iam'], id === 4720 ? ['user', 'creation'] : ['user', 'change']);
      return;
    case 4728: case 4732: case 4756: case 4729: case 4733:
      subjectUser(ev, d);
      setLogonId(ev, d.SubjectLogonId);
      {
        const acct = splitAccount(d.MemberName);
        // MemberName is an LDAP DN for domain accounts; keep the SID as the reliable key.
        setTargetUser(ev, acct?.name, acct?.domain, d.MemberSid);
      }
      classify(ev, id === 4729 || id === 4733 ? 'removed-member-from-group' : 'added-member-to-group', ['iam'], ['group', 'change']);
      return;
    case 4768: case 4769: case 4771:
      {
        const n = cleanTrim(d.TargetUserName);
        const at = n?.indexOf('@') ?? -1;
        setUser(ev, n !== undefined && at > 0 ? n.slice(0, at) : n, d.TargetDomainName, d.TargetSid);
      }
      setSource(ev, d.IpAddress, d.IpPort);
      put(svc(ev), 'name', cleanTrim(d.ServiceName));
      put(logon(ev), 'guid', cleanTrim(d.LogonGuid)?.toUpperCase());
      if (ev.winlog.logon?.guid === '{00000000-0000-0000-0000-000000000000}') delete ev.winlog.logon.guid;
      if (ev.winlog.logon && Object.keys(ev.winlog.logon).length === 0) delete ev.winlog.logon;
      if (ev.service && Object.keys(ev.service).length === 0) delete ev.service;
      classify(ev, id === 4768 ? 'kerberos-authentication-ticket-requested' : id === 4769 ? 'kerberos-service-ticket-requested' : 'kerberos-preauth-failed', ['authentication'], ['start']);
      {
        const st = cleanTrim(d.Status);
        if (st !== undefined) ev.event.outcome = toInt(st) === 0 ? 'success' : 'failure';
      }
      return;
    case 4776:
      setUser(ev, d.TargetUserName);
      setSource(ev, undefined, undefined, d.Workstation);
      classify(ev, 'credential-validated', ['authentication'], ['start']);
      {
        const st = cleanTrim(d.Status);
        if (st !== undefined) ev.event.outcome = toInt(st) === 0 ? 'success' : 'failure';
      }
      return;
    case 5140: case 5145: {
      subjectUser(ev, d);
      setLogonId(ev, d.SubjectLogonId);
      setSource(ev, d.IpAddress, d.IpPort);
      const share = cleanTrim(d.ShareName);
      const rel = cleanTrim(d.RelativeTargetName);
      if (share !== undefined) ev.file = { path: rel === undefined ? share : share.endsWith('\\') || rel.startsWith('\\') ? share + rel : `${share}\\${rel}` };
      classify(ev, id === 5140 ? 'network-share-object-accessed' : 'network-share-object-access-checked', ['network', 'file'], ['access']);
      return;
    }
    case 5156: case 5157: case 5158: {
      setProcess(ev, toInt(cleanTrim(d.ProcessID)), d.Application);
      setSource(ev, d.SourceAddress, d.SourcePort);
      setDest(ev, d.DestAddress, d.DestPort);
      const dir = d.Direction;
      if (dir === 'Inbound' || dir === '%%14592') net(ev).direction = 'inbound';
      else if (dir === 'Outbound' || dir === '%%14593') net(ev).direction = 'outbound';
      const t = TRANSPORTS.get(cleanTrim(d.Protocol) ?? '');
      if (t !== undefined) net(ev).transport = t;
      classify(ev, id === 5158 ? 'bind-permitted' : id === 5156 ? 'connection-permitted' : 'connection-blocked', ['network'], id === 5157 ? ['connection', 'denied'] : ['connection', 'allowed']);
      return;
    }
    case 1102:
      subjectUser(ev, d);
      setLogonId(ev, d.SubjectLogonId);
      classify(ev, 'audit-log-cleared', ['iam'], ['admin', 'change']);
      return;
    case 4697:
      subjectUser(ev, d);
      setLogonId(ev, d.SubjectLogonId);
      put(svc(ev), 'name', cleanTrim(d.ServiceName));
      put(svc(ev), 'executable', cleanTrim(d.ServiceFileName));
      classify(ev, 'service-installed', ['iam', 'configuration'], ['admin', 'change']);
      return;
    default:
      if (d.SubjectUserName !== undefined || d.SubjectUserSid !== undefined) subjectUser(ev, d);
      if (d.SubjectLogonId !== undefined) setLogonId(ev, d.SubjectLogonId);
  }
}

// ---- System ----

function system(ev: Ev, id: number, d: Data): void {
  switch (id) {
    case 104:
      setUser(ev, d.SubjectUserName, d.SubjectDomainName);
      classify(ev, 'audit-log-cleared', ['iam'], ['admin', 'change']);
      return;
    case 7036:
      put(svc(ev), 'name', cleanTrim(d.param1));
      put(svc(ev), 'state', cleanTrim(d.param2));
      classify(ev, 'service-state-changed', ['configuration'], ['change']);
      return;
    case 7040:
      put(svc(ev), 'name', cleanTrim(d.param4) ?? cleanTrim(d.param1));
      put(svc(ev), 'start_type', cleanTrim(d.param3));
      classify(ev, 'service-start-type-changed', ['configuration'], ['change']);
      return;
    case 7045:
      put(svc(ev), 'name', cleanTrim(d.ServiceName));
      put(svc(ev), 'executable', cleanTrim(d.ImagePath));
      put(svc(ev), 'start_type', cleanTrim(d.StartType));
      classify(ev, 'service-installed', ['configuration'], ['installation']);
      return;
  }
}

// ---- WinRM ----

const WINRM_OPS: Readonly<Record<number, string>> = {
  6: 'create_session', 8: 'close_session', 10: 'set_session_option', 11: 'create_shell', 12: 'create_shell_completed',
  13: 'run_command', 15: 'close_command', 16: 'close_shell', 29: 'init_api_completed', 31: 'create_session_completed',
  33: 'close_session_completed', 91: 'server_create_shell', 142: 'operation_failed', 161: 'client_auth_failed',
  162: 'client_auth_failed', 166: 'http_auth', 168: 'server_auth', 169: 'user_authenticated', 193: 'request_received',
};

function winrmEvent(ev: Ev, id: number, d: Data, kind: string): void {
  const w = winrm(ev);
  put(w, 'operation', WINRM_OPS[id]);
  const conn = cleanTrim(d.connection);
  if (conn !== undefined) {
    w.connection = conn;
    // `host[:port]/wsman?...` or a full `http(s)://host:port/wsman` URL.
    const m = /^(?:https?:\/\/)?(\[[^\]]+\]|[^/:?]+)(?::(\d+))?(\/.*)?$/i.exec(conn);
    if (m) {
      w.target = m[1].toLowerCase();
      put(w, 'uri', m[3]);
      setDest(ev, /^[\d.]+$|:/.test(m[1]) ? m[1].replace(/^\[|\]$/g, '') : undefined, m[2], /^[\d.]+$|:/.test(m[1]) ? undefined : m[1].toLowerCase());
    }
  }
  put(w, 'resource_uri', cleanTrim(d.resourceUri ?? d.resourceURI ?? d.ResourceUri));
  put(w, 'shell_id', cleanTrim(d.shellId ?? d.ShellId)?.toUpperCase());
  put(w, 'command_id', cleanTrim(d.commandId ?? d.CommandId)?.toUpperCase());
  put(w, 'authentication_mechanism', cleanTrim(d.authenticationMechanism));
  put(w, 'user', cleanTrim(d.username ?? d.userName));
  const cip = ip(d.clientIP ?? d.clientIp ?? d.ClientIP);
  if (cip !== undefined) {
    w.client_ip = cip;
    setSource(ev, cip);
  }
  // ProcessingErrorData arrives as UserData from collectors: recognise it by its DataItemName too.
  const procErr = kind === 'ProcessingErrorData' || d.DataItemName !== undefined;
  put(w, 'error_code', cleanTrim(d.errorCode ?? (procErr ? d.ErrorCode : undefined)));
  if (d.operationName !== undefined) put(w, 'operation', cleanTrim(d.operationName) ?? w.operation);
  if (d.optionCode !== undefined || d.optionName !== undefined) {
    const o: NonNullable<typeof w.option> = {};
    put(o, 'code', cleanTrim(d.optionCode));
    put(o, 'name', cleanTrim(d.optionName));
    put(o, 'value', d.optionValue);
    w.option = o;
  }
  // A shell whose data item failed to render (ProcessingErrorData) still carries the value as UTF-16 hex.
  if (procErr && d.EventPayload !== undefined && d.DataItemName !== undefined) {
    const text = utf16HexToText(d.EventPayload);
    if (text !== undefined && /^https?:\/\//.test(text) && w.resource_uri === undefined) w.resource_uri = text;
  }
  if (w.user !== undefined) {
    const a = splitAccount(w.user);
    setUser(ev, a?.name, a?.domain);
  }
  ev.event.category = ['network', 'session'];
  if (id === 169) ev.event.outcome = 'success';
  if (id === 142 || id === 161 || id === 162) ev.event.outcome = 'failure';
}

// ---- Windows PowerShell (classic) ----

function applyClassicContext(ev: Ev, c: Record<string, string>): void {
  const p = ps(ev);
  const host: NonNullable<typeof p.host> = {};
  put(host, 'name', cleanTrim(c.HostName));
  put(host, 'application', cleanTrim(c.HostApplication));
  put(host, 'version', cleanTrim(c.HostVersion));
  put(host, 'id', cleanTrim(c.HostId));
  if (Object.keys(host).length > 0) p.host = host;
  put(p, 'runspace_id', cleanTrim(c.RunspaceId));
  put(p, 'pipeline_id', cleanTrim(c.PipelineId));
  put(p, 'sequence', toInt(c.DetailSequence));
  put(p, 'total', toInt(c.DetailTotal));
  put(p, 'sequence_number', toInt(c.SequenceNumber));
  const eng: NonNullable<typeof p.engine> = {};
  put(eng, 'version', cleanTrim(c.EngineVersion));
  put(eng, 'new_state', cleanTrim(c.NewEngineState));
  put(eng, 'previous_state', cleanTrim(c.PreviousEngineState));
  if (Object.keys(eng).length > 0) p.engine = eng;
  if (c.ProviderName !== undefined || c.NewProviderState !== undefined) {
    const pr: NonNullable<typeof p.provider> = {};
    put(pr, 'name', cleanTrim(c.ProviderName));
    put(pr, 'new_state', cleanTrim(c.NewProviderState));
    if (Object.keys(pr).length > 0) p.provider = pr;
  }
  const cmd: NonNullable<typeof p.command> = {};
  put(cmd, 'name', cleanTrim(c.CommandName));
  put(cmd, 'type', cleanTrim(c.CommandType));
  put(cmd, 'path', cleanTrim(c.CommandPath));
  put(cmd, 'value', cleanTrim(c.CommandLine));
  if (Object.keys(cmd).length > 0) p.command = cmd;
  const script = cleanTrim(c.ScriptName);
  if (script !== undefined) p.file = { path: script };
  const uid = cleanTrim(c.UserId);
  if (uid !== undefined) {
    p.user = uid;
    const a = splitAccount(uid);
    setUser(ev, a?.name, a?.domain);
  }
  // The Elastic PowerShell integration maps HostApplication to process.command_line: same here.
  if (host.application !== undefined) proc(ev).command_line = host.application;
}

function classicPowerShell(ev: Ev, id: number, d: Data, message: string | undefined): void {
  // EVTX / Winlogbeat give param1..3; NXLog and Export-WinEvents flatten nothing, so read the message.
  const block = id === 800 ? d.param2 : d.param3;
  const fromParams = block !== undefined && block.indexOf('=') >= 0;
  const ctxText = fromParams ? block : message;
  if (ctxText !== undefined) applyClassicContext(ev, parseClassicContext(ctxText));
  if (id === 800) {
    const p = ps(ev);
    const cmd = (p.command ??= {});
    if (cmd.value === undefined) {
      let first = cleanTrim(d.param1);
      if (first === undefined && message !== undefined) {
        const m = /^Pipeline execution details for command line:\s*([\s\S]*?)\.\s*\n\s*\n\s*Context Information:/.exec(lf(message));
        if (m) first = cleanTrim(m[1]);
      }
      put(cmd, 'value', first !== undefined ? lf(first) : undefined);
    }
    const det = fromParams ? d.param3 : message !== undefined ? messageDetails(message) : undefined;
    if (det !== undefined) put(cmd, 'invocation_details', parseInvocationDetails(det));
    if (Object.keys(cmd).length === 0) delete p.command;
    classify(ev, 'pipeline-execution-details', ['process'], ['info']);
  } else if (id === 400) classify(ev, 'engine-started', ['process'], ['start']);
  else if (id === 403) classify(ev, 'engine-stopped', ['process'], ['end']);
  else if (id === 600) classify(ev, 'provider-started', ['process'], ['info']);
  if (ev.powershell && Object.keys(ev.powershell).length === 0) delete ev.powershell;
}

// ---- Microsoft-Windows-PowerShell/Operational ----

function applyContextInfo(ev: Ev, c: Record<string, string>): void {
  const p = ps(ev);
  const host: NonNullable<typeof p.host> = {};
  put(host, 'name', cleanTrim(c['Host Name']));
  put(host, 'application', cleanTrim(c['Host Application']));
  put(host, 'version', cleanTrim(c['Host Version']));
  put(host, 'id', cleanTrim(c['Host ID']));
  if (Object.keys(host).length > 0) p.host = host;
  if (host.application !== undefined) proc(ev).command_line = host.application;
  put(p, 'runspace_id', cleanTrim(c['Runspace ID']));
  put(p, 'pipeline_id', cleanTrim(c['Pipeline ID']));
  put(p, 'sequence_number', toInt(c['Sequence Number']));
  put(p, 'id', cleanTrim(c['Shell ID']));
  const ev2 = cleanTrim(c['Engine Version']);
  if (ev2 !== undefined) p.engine = { version: ev2 };
  const cmd: NonNullable<typeof p.command> = {};
  put(cmd, 'name', cleanTrim(c['Command Name']));
  put(cmd, 'type', cleanTrim(c['Command Type']));
  put(cmd, 'path', cleanTrim(c['Command Path']));
  if (Object.keys(cmd).length > 0) p.command = cmd;
  const script = cleanTrim(c['Script Name']);
  if (script !== undefined) p.file = { path: script };
  const u = cleanTrim(c.User);
  if (u !== undefined) {
    p.user = u;
    const a = splitAccount(u);
    setUser(ev, a?.name, a?.domain);
  }
  put(p, 'connected_user', cleanTrim(c['Connected User']));
}

function psOperational(ev: Ev, id: number, d: Data): void {
  switch (id) {
    case 4100: case 4103: {
      if (d.ContextInfo !== undefined) applyContextInfo(ev, parseContextInfo(d.ContextInfo));
      const det = d.Payload !== undefined ? parseInvocationDetails(d.Payload) : undefined;
      if (det !== undefined) {
        const p = ps(ev);
        (p.command ??= {}).invocation_details = det;
      }
      classify(ev, id === 4103 ? 'executing-pipeline' : 'error', ['process'], id === 4103 ? ['info'] : ['error']);
      return;
    }
    case 4104: {
      const p = ps(ev);
      const f: NonNullable<typeof p.file> = {};
      put(f, 'script_block_id', cleanTrim(d.ScriptBlockId));
      if (d.ScriptBlockText !== undefined && d.ScriptBlockText !== '') f.script_block_text = lf(d.ScriptBlockText);
      put(f, 'path', cleanTrim(d.Path));
      if (Object.keys(f).length > 0) p.file = f;
      put(p, 'sequence', toInt(d.MessageNumber));
      put(p, 'total', toInt(d.MessageTotal));
      classify(ev, 'execute-remote-command', ['process'], ['info']);
      return;
    }
    case 4105: case 4106: {
      const p = ps(ev);
      const sb = cleanTrim(d.ScriptBlockId);
      if (sb !== undefined) p.file = { script_block_id: sb };
      put(p, 'runspace_id', cleanTrim(d.RunspaceId));
      classify(ev, id === 4105 ? 'started-command' : 'stopped-command', ['process'], [id === 4105 ? 'start' : 'end']);
      return;
    }
    case 8193: case 8194: case 8195: case 8196: case 8197: {
      const p = ps(ev);
      put(p, 'runspace_id', cleanTrim(id === 8193 ? d.param1 : id === 8194 ? d.InstanceId : undefined));
      if (id === 8197) put(p, 'engine', cleanTrim(d.param1) !== undefined ? { new_state: cleanTrim(d.param1) as string } : undefined);
      classify(ev, ({ 8193: 'create-runspace', 8194: 'create-runspace-pool', 8195: 'open-runspace-pool', 8196: 'modify-runspace-pool', 8197: 'runspace-state-changed' } as Record<number, string>)[id], ['process'], ['info']);
      if (Object.keys(p).length === 0) delete ev.powershell;
      return;
    }
    case 53504:
      setProcess(ev, toInt(d.param1), undefined);
      classify(ev, 'ipc-listening-thread-started', ['process'], ['start']);
      return;
    case 40961: case 40962:
      classify(ev, id === 40961 ? 'console-starting' : 'console-ready', ['process'], [id === 40961 ? 'start' : 'info']);
      return;
    case 12039:
      classify(ev, 'activity-correlated', ['process'], ['info']);
      return;
  }
}

// ---- Sysmon ----

function sysmon(ev: Ev, id: number, d: Data): void {
  const acct = splitAccount(d.User);
  if (acct !== undefined) setUser(ev, acct.name, acct.domain);
  put(ev.rule ??= {}, 'name', cleanTrim(d.RuleName));
  if (ev.rule && Object.keys(ev.rule).length === 0) delete ev.rule;
  switch (id) {
    case 1:
      setProcess(ev, toInt(d.ProcessId), d.Image, d.CommandLine, d.ProcessGuid?.toUpperCase());
      setParent(ev, toInt(d.ParentProcessId), d.ParentImage, d.ParentCommandLine, d.ParentProcessGuid?.toUpperCase());
      setLogonId(ev, d.LogonId);
      put(logon(ev), 'guid', cleanTrim(d.LogonGuid)?.toUpperCase());
      if (Object.keys(logon(ev)).length === 0) delete ev.winlog.logon;
      classify(ev, 'process-created', ['process'], ['start']);
      return;
    case 3: {
      setProcess(ev, toInt(d.ProcessId), d.Image, undefined, d.ProcessGuid?.toUpperCase());
      setSource(ev, d.SourceIp, d.SourcePort, d.SourceHostname);
      setDest(ev, d.DestinationIp, d.DestinationPort, d.DestinationHostname);
      const t = cleanTrim(d.Protocol);
      if (t !== undefined) net(ev).transport = t.toLowerCase();
      const ini = cleanTrim(d.Initiated);
      if (ini === 'true') net(ev).direction = 'outbound';
      else if (ini === 'false') net(ev).direction = 'inbound';
      classify(ev, 'network-connection-detected', ['network'], ['connection', 'start']);
      return;
    }
    case 5:
      setProcess(ev, toInt(d.ProcessId), d.Image, undefined, d.ProcessGuid?.toUpperCase());
      classify(ev, 'process-terminated', ['process'], ['end']);
      return;
    case 22: {
      setProcess(ev, toInt(d.ProcessId), d.Image, undefined, d.ProcessGuid?.toUpperCase());
      const q = cleanTrim(d.QueryName);
      if (q !== undefined) {
        ev.dns = { question: { name: q } };
        put(ev.dns, 'answers', cleanTrim(d.QueryResults));
      }
      classify(ev, 'dns-query', ['network'], ['protocol', 'info']);
      return;
    }
    default:
      setProcess(ev, toInt(d.ProcessId), d.Image, undefined, d.ProcessGuid?.toUpperCase());
  }
}

// ---- Windows Firewall, WMI-Activity ----

function firewall(ev: Ev, id: number, d: Data): void {
  const r: NonNullable<Ev['rule']> = {};
  put(r, 'id', cleanTrim(d.RuleId));
  put(r, 'name', cleanTrim(d.RuleName));
  if (Object.keys(r).length > 0) ev.rule = r;
  setProcess(ev, undefined, d.ApplicationPath);
  const u = cleanTrim(d.ModifyingUser);
  if (u !== undefined) setUser(ev, undefined, undefined, u);
  const dir = cleanTrim(d.Direction);
  if (dir === '1') net(ev).direction = 'inbound';
  else if (dir === '2') net(ev).direction = 'outbound';
  classify(ev, ({ 2004: 'firewall-rule-added', 2005: 'firewall-rule-modified', 2006: 'firewall-rule-deleted', 2033: 'firewall-rules-all-deleted', 2052: 'firewall-rule-deleted' } as Record<number, string>)[id] ?? 'firewall-event', ['configuration'], id === 2004 ? ['creation'] : id === 2005 ? ['change'] : id === 2006 || id === 2033 || id === 2052 ? ['deletion'] : ['info']);
}

function wmi(ev: Ev, id: number, d: Data): void {
  if (id === 5857) {
    // HostProcess is a bare image name, not a path.
    setProcess(ev, toInt(d.ProcessID), undefined);
    put(proc(ev), 'name', cleanTrim(d.HostProcess));
    classify(ev, 'wmi-provider-started', ['process'], ['start']);
  } else if (id === 5860 || id === 5861) {
    const a = splitAccount(d.User);
    if (a !== undefined) setUser(ev, a.name, a.domain);
    const pid = toInt(d.processid ?? d.ProcessID);
    if (pid !== undefined) setProcess(ev, pid, undefined);
    classify(ev, id === 5860 ? 'wmi-temporary-consumer-registered' : 'wmi-permanent-consumer-registered', ['configuration'], ['creation']);
  }
}

/** Canonical names by lower case; a Map, as it is looked up by evidence text (no `constructor` in it). */
export const CHANNELS: ReadonlyMap<string, string> = new Map(Object.entries({
  security: 'Security',
  system: 'System',
  application: 'Application',
  'windows powershell': 'Windows PowerShell',
  'microsoft-windows-powershell/operational': 'Microsoft-Windows-PowerShell/Operational',
  'microsoft-windows-winrm/operational': 'Microsoft-Windows-WinRM/Operational',
  'microsoft-windows-sysmon/operational': 'Microsoft-Windows-Sysmon/Operational',
  'microsoft-windows-windows firewall with advanced security/firewall': 'Microsoft-Windows-Windows Firewall With Advanced Security/Firewall',
  'microsoft-windows-wmi-activity/operational': 'Microsoft-Windows-WMI-Activity/Operational',
}));

/** Channel names in their canonical case (collectors disagree: `Security` and `security` both occur). */
export function canonicalChannel(c: string): string {
  let v = seen.get(c);
  if (v === undefined) {
    v = CHANNELS.get(c.toLowerCase()) ?? c;
    if (seen.size < 1024) seen.set(c, v); // few distinct channels: a small memo saves a toLowerCase per event
  }
  return v;
}
const seen = new Map<string, string>();

/** The data keys the extractors above read: data with all of them probes what an ID can give. */
export const EXTRACTED_KEYS: readonly string[] = [
  'Application', 'ApplicationPath', 'AuthenticationPackageName', 'ClientIP', 'CommandId', 'CommandLine',
  'ContextInfo', 'DataItemName', 'DestAddress', 'DestPort', 'DestinationHostname', 'DestinationIp',
  'DestinationPort', 'Direction', 'ErrorCode', 'EventPayload', 'HostProcess', 'Image', 'ImagePath', 'Initiated',
  'InstanceId', 'IpAddress', 'IpPort', 'LogonGuid', 'LogonId', 'LogonType', 'MemberName', 'MemberSid',
  'MessageNumber', 'MessageTotal', 'ModifyingUser', 'NewProcessId', 'NewProcessName', 'ParentCommandLine',
  'ParentImage', 'ParentProcessGuid', 'ParentProcessId', 'ParentProcessName', 'Path', 'Payload', 'ProcessGuid',
  'ProcessID', 'ProcessId', 'ProcessName', 'Protocol', 'QueryName', 'QueryResults', 'RelativeTargetName',
  'ResourceUri', 'RuleId', 'RuleName', 'RunspaceId', 'ScriptBlockId', 'ScriptBlockText', 'ServiceFileName',
  'ServiceName', 'ShareName', 'ShellId', 'SourceAddress', 'SourceHostname', 'SourceIp', 'SourcePort', 'StartType',
  'Status', 'SubjectDomainName', 'SubjectLogonId', 'SubjectUserName', 'SubjectUserSid', 'TargetDomainName',
  'TargetLinkedLogonId', 'TargetLogonId', 'TargetServerName', 'TargetSid', 'TargetUserName', 'TargetUserSid', 'User',
  'Workstation', 'WorkstationName', 'authenticationMechanism', 'clientIP', 'clientIp', 'commandId', 'connection',
  'errorCode', 'operationName', 'optionCode', 'optionName', 'optionValue', 'param1', 'param2', 'param3', 'param4',
  'processid', 'resourceURI', 'resourceUri', 'shellId', 'userName', 'username',
];

/** The Security event IDs security() has a case for; the others get the subject user and logon ID only. */
const SECURITY_CASES = new Set([4624, 4625, 4634, 4647, 4648, 4672, 4688, 4689, 4720, 4722, 4724, 4738, 4726, 4725, 4728, 4732,
  4756, 4729, 4733, 4768, 4769, 4771, 4776, 5140, 5145, 5156, 5157, 5158, 1102, 4697]);

/**
 * Whether extractFields gives this channel (canonical) and event ID nothing but who and what logged it:
 * the user, the process (ID, image, GUID: no command line), the rule name and the logon ID; no addresses,
 * ports, network, command lines, PowerShell, WinRM, service or file fields, whatever the data. The default
 * branches of sysmon() and security(): keep in step with their cases (test/normalize/extract-identity.test.ts
 * checks every ID against the extraction).
 */
export function identityOnly(channel: string, id: number): boolean {
  if (channel === 'Microsoft-Windows-Sysmon/Operational') return id !== 1 && id !== 3 && id !== 5 && id !== 22;
  if (channel === 'Security') return !SECURITY_CASES.has(id);
  return false;
}

/** The channels extractFields has a case for (canonical names). */
const EXTRACTED_CHANNELS = new Set(['Security', 'System', 'Microsoft-Windows-WinRM/Operational', 'Windows PowerShell',
  'Microsoft-Windows-PowerShell/Operational', 'Microsoft-Windows-Sysmon/Operational',
  'Microsoft-Windows-Windows Firewall With Advanced Security/Firewall', 'Microsoft-Windows-WMI-Activity/Operational']);
const SYSTEM_CASES = new Set([104, 7036, 7040, 7045]);

/**
 * Whether extractFields gives this channel (canonical) and event ID nothing at all, whatever the data:
 * such an event is the record's common fields only (ingest/normalize/evtx-lines.ts writes those directly).
 * extractFields returns at once for them, so a case added below without a change here is never run (and
 * its tests say so).
 */
export function extractsNothing(channel: string, id: number): boolean {
  if (channel === 'System') return !SYSTEM_CASES.has(id);
  return !EXTRACTED_CHANNELS.has(channel);
}

/** Fill the source-specific fields of `ev` from the cleaned data. `channel` must be canonical. */
export function extractFields(ev: Ev, channel: string, id: number, d: Data, kind: string, message: string | undefined): void {
  if (extractsNothing(channel, id)) return;
  switch (channel) {
    case 'Security': security(ev, id, d); break;
    case 'System': system(ev, id, d); break;
    case 'Microsoft-Windows-WinRM/Operational': winrmEvent(ev, id, d, kind); break;
    case 'Windows PowerShell': classicPowerShell(ev, id, d, message); break;
    case 'Microsoft-Windows-PowerShell/Operational': psOperational(ev, id, d); break;
    case 'Microsoft-Windows-Sysmon/Operational': sysmon(ev, id, d); break;
    case 'Microsoft-Windows-Windows Firewall With Advanced Security/Firewall': firewall(ev, id, d); break;
    case 'Microsoft-Windows-WMI-Activity/Operational': wmi(ev, id, d); break;
  }
}
