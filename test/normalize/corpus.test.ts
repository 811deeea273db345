// Every record of the corpus reference dumps (exactly the EVTX parser's output shape) normalizes, zod-valid;
// and one real example per listed event ID that the corpus or the datasets contain has its fields pinned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Normalizer, normalizeEvtxRecord } from '../../ingest/normalize/index.js';
import type { EvtxRecord } from '../../ingest/evtx/record.js';
import { NormalizedEvent } from '../../schemas/event.js';
import { corpusFiles, referenceRecords } from '../support/corpus.js';
import { SKIP_NO_SHARED } from '../support/shared.js';

const norm = new Normalizer({ validate: NormalizedEvent, ingested: '2026-01-01T00:00:00.000Z' });

function one(file: string, pred: (r: EvtxRecord) => boolean): NormalizedEvent {
  const r = referenceRecords(file).find(pred);
  assert.ok(r, `no such record in ${file}`);
  const res = norm.normalize(r, { format: 'evtx', file, offset: 0 });
  assert.ok(res.ok, res.ok ? '' : res.reason);
  return res.event;
}

test('every corpus reference record normalizes with no reject (zod-validated)', { skip: SKIP_NO_SHARED }, () => {
  let n = 0;
  const rejects: string[] = [];
  for (const f of corpusFiles()) {
    for (const r of referenceRecords(f)) {
      const res = norm.normalize(r, { format: 'evtx', file: f, chunk: 0, offset: 0 });
      if (res.ok) n++;
      else rejects.push(`${f} ${r.record_id}: ${res.reason}`);
    }
  }
  assert.deepEqual(rejects, []);
  assert.equal(n, 6688);
});

test('normalizeEvtxRecord: provenance and base fields', { skip: SKIP_NO_SHARED }, () => {
  const r = referenceRecords('R3_LM_PowershellRemoting_sysmon_1_wsmprovhost.evtx')[0];
  const res = normalizeEvtxRecord(r, { format: 'evtx', file: 'R3.evtx', chunk: 0, offset: 4096 + 512 });
  assert.ok(res.ok);
  const e = res.event;
  assert.equal(e['@timestamp'], '2019-05-16T01:38:19.630Z');
  assert.equal(e.winlog.time_created, '2019-05-16T01:38:19.6308658Z');
  assert.equal(e.event.created, undefined, 'zero written time is absent');
  assert.deepEqual(e.host, { name: 'dc1.insecurebank.local', hostname: 'dc1' });
  assert.deepEqual(e.log.file, { path: 'R3.evtx' });
  assert.equal(e.log.offset, 4608);
  assert.deepEqual(e.hoptrail.provenance, { format: 'evtx', file: 'R3.evtx', chunk: 0, offset: 4608 });
  assert.equal(e.process?.name, 'HOSTNAME.EXE');
  assert.equal(e.process?.parent?.executable, 'C:\\Windows\\System32\\wsmprovhost.exe');
  assert.equal(e.process?.parent?.command_line, 'C:\\Windows\\system32\\wsmprovhost.exe -Embedding');
  assert.equal(e.process?.entity_id, '{DFAE8213-BF0B-5CDC-0000-00105A951600}');
  assert.deepEqual(e.user, { name: 'Administrator', domain: 'insecurebank' });
  assert.equal(e.winlog.logon?.id, '0x15daaf');
  assert.equal(e.rule?.name, 'Lateral Movement - Windows Remote Management');
});

const L1 = 'L1_ID4688_4697_5140-5145_PSexec_remote_execution_admin_share.evtx';

test('Security 4624: logon type, ID, source; placeholders absent', { skip: SKIP_NO_SHARED }, () => {
  const e = one(L1, (r) => r.event_id === 4624);
  assert.deepEqual(e.winlog.logon, { id: '0x1375fbd', type: 'Network', type_code: 3, guid: '{B8C3A477-69DB-D96F-F0C0-889CCECB69EE}', auth_package: 'Kerberos' });
  assert.deepEqual(e.user, { name: 'admmig', domain: 'OFFSEC.LAN', id: 'S-1-5-21-4230534742-2542757381-3142984815-1111' });
  assert.deepEqual(e.source, { ip: '10.23.42.22', port: 56661 });
  assert.equal(e.event.outcome, 'success');
  assert.equal(e.winlog.event_data?.SubjectUserName, undefined, '"-" dropped');
  assert.equal(e.winlog.event_data?.ImpersonationLevel, 'Impersonation', '%%1833 resolved');
  assert.equal(e.winlog.event_data?.ElevatedToken, 'Yes');
  assert.equal(e.process, undefined, 'ProcessId 0x0 / ProcessName - are absent');
});

test('Security 4625: failed network logon', { skip: SKIP_NO_SHARED }, () => {
  const e = one('L3_smb-password-guessing-security.evtx', (r) => r.event_id === 4625);
  assert.equal(e.event.outcome, 'failure');
  assert.equal(e.user?.name, 'JcDfcZTc');
  assert.equal(e.winlog.logon?.type_code, 3);
  assert.deepEqual(e.source, { ip: '192.168.198.149', port: 50249, domain: '6hgtmVlrrFuWtO65' });
  assert.equal(e.winlog.event_data?.FailureReason, 'Unknown user name or bad password.');
  assert.equal(e.winlog.event_data?.LogonProcessName, 'NtLmSsp ');
});

test('Security 4648, 4672, 4688, 5140, 5145, 5156, 5158, 1102, 4720, 4732 from the corpus', { skip: SKIP_NO_SHARED }, () => {
  const e4648 = one('L2_DE_RDP_Tunnel_5156.evtx', (r) => r.event_id === 4648);
  assert.ok(e4648.destination?.domain !== undefined || e4648.destination?.user?.name !== undefined);
  assert.equal(e4648.event.action, 'logged-in-explicit');
  const e4672 = one('L8_ID4688_5140_5145-WMIexec_execution_via_SMB_GLOBAL.evtx', (r) => r.event_id === 4672);
  assert.match(e4672.winlog.logon?.id ?? '', /^0x[0-9a-f]+$/);
  assert.ok(e4672.user?.name);
  const e4688 = one('L5_metasploit-psexec-powershell-target-security.evtx', (r) => r.event_id === 4688);
  assert.deepEqual(e4688.process, { pid: 0xc4c, executable: 'C:\\Windows\\System32\\ipconfig.exe', name: 'ipconfig.exe', command_line: 'ipconfig', parent: { pid: 0xf14 } });
  const e5140 = one(L1, (r) => r.event_id === 5140);
  assert.match(e5140.file?.path ?? '', /^\\\\\*\\/);
  assert.ok(e5140.source?.ip);
  const e5145 = one(L1, (r) => r.event_id === 5145 && r.event_data.RelativeTargetName !== undefined && r.event_data.RelativeTargetName !== '');
  assert.ok(e5145.file?.path?.includes('\\'));
  const e5156 = one('L2_DE_RDP_Tunnel_5156.evtx', (r) => r.event_id === 5156);
  assert.deepEqual(e5156.network, { direction: 'outbound', transport: 'udp' });
  assert.deepEqual(e5156.source, { ip: 'fe80::80ac:4126:fa58:1b81', port: 546 });
  assert.deepEqual(e5156.destination, { ip: 'ff02::1:2', port: 547 });
  assert.equal(e5156.process?.pid, 820);
  assert.equal(e5156.winlog.event_data?.LayerName, 'Connect');
  const e5158 = one('L2_DE_RDP_Tunnel_5156.evtx', (r) => r.event_id === 5158);
  assert.equal(e5158.event.action, 'bind-permitted');
  const e1102 = one('L2_DE_RDP_Tunnel_5156.evtx', (r) => r.event_id === 1102);
  assert.deepEqual(e1102.user, { name: 'admin01', domain: 'EXAMPLE', id: 'S-1-5-21-1587066498-1489273250-1035260531-1108' });
  assert.equal(e1102.winlog.user_data?.SubjectLogonId, '0xaf855');
  assert.equal(e1102.event.action, 'audit-log-cleared');
  const e4720 = one('L6_new-user-security.evtx', (r) => r.event_id === 4720);
  assert.deepEqual(e4720.user?.target, { name: 'IEUser', domain: 'IE8Win7', id: 'S-1-5-21-3463664321-2923530833-3546627382-1000' });
  assert.equal(e4720.winlog.event_data?.DisplayName, undefined, '%%1793 (<value not set>) is absent');
  const e4732 = one('L6_new-user-security.evtx', (r) => r.event_id === 4732);
  assert.equal(e4732.user?.target?.id, 'S-1-5-21-3463664321-2923530833-3546627382-1000');
});

test('System 104 and 7045', { skip: SKIP_NO_SHARED }, () => {
  const e104 = one('L4_metasploit-psexec-powershell-target-system.evtx', (r) => r.event_id === 104);
  assert.deepEqual(e104.user, { name: 'IEUser', domain: 'IE10WIN7' });
  const e7045 = one('L4_metasploit-psexec-powershell-target-system.evtx', (r) => r.event_id === 7045);
  assert.equal(e7045.service?.name, 'UWdKhYTIQWWJxHfx');
  assert.match(e7045.service?.executable ?? '', /^%COMSPEC% \/b \/c start \/b \/min powershell\.exe -nop -w hidden/);
});

test('WinRM 169, 91 (ProcessingErrorData payload decoded)', { skip: SKIP_NO_SHARED }, () => {
  const e169 = one('R1_RemotePowerShell_MS_Windows-Remote_Management_EventID_169.evtx', (r) => r.event_id === 169);
  assert.deepEqual(e169.winrm, { operation: 'user_authenticated', authentication_mechanism: 'NTLM', user: 'iewin7\\ieuser' });
  assert.deepEqual(e169.user, { name: 'ieuser', domain: 'iewin7' });
  const e91 = one('R2_LM_winrm_target_wrmlogs_91_wsmanShellStarted_poorLog.evtx', (r) => r.event_id === 91);
  assert.equal(e91.winrm?.resource_uri, 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd');
});

test('Windows PowerShell 400, 403, 600, 800 from parameters', { skip: SKIP_NO_SHARED }, () => {
  const e800 = one('X2_ID800-4103-Firewall_disabled.evtx', (r) => r.event_id === 800 && r.event_data.param1 !== '');
  assert.equal(e800.powershell?.command?.value, 'Set-NetFirewallProfile -Profile Domain, Public, Private -Enabled False');
  assert.equal(e800.powershell?.host?.name, 'ConsoleHost');
  assert.equal(e800.powershell?.user, 'OFFSEC\\admmig');
  assert.equal(e800.powershell?.runspace_id, '1b55a157-a0b9-4e11-bc7a-f1d86023a61c');
  const e600 = one('P4_T1562.010_DowngradeAttack_PowerShell.evtx', (r) => r.event_id === 600);
  assert.deepEqual(e600.powershell?.provider, { name: 'Registry', new_state: 'Started' });
  assert.equal(e600.powershell?.host?.application, 'powershell calc');
  const e400 = one('P4_T1562.010_DowngradeAttack_PowerShell.evtx', (r) => r.event_id === 400);
  assert.equal(e400.powershell?.engine?.new_state, 'Available');
  assert.equal(e400.event.action, 'engine-started');
  const e403 = one('P4_T1562.010_DowngradeAttack_PowerShell.evtx', (r) => r.event_id === 403);
  assert.equal(e403.powershell?.engine?.new_state, 'Stopped');
});

test('PowerShell/Operational 4103 ContextInfo, 4104 script block, 4100, 40961/40962, 53504', { skip: SKIP_NO_SHARED }, () => {
  const e4103 = one('P1_ID4103-4104_-_SPN_discovery_moder_nPowerShell.evtx', (r) => r.event_id === 4103);
  assert.deepEqual(e4103.powershell, {
    host: { name: 'ConsoleHost', application: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', version: '4.0', id: '7f6359d5-da68-4ff5-8b7e-f3393366b020' },
    runspace_id: 'c8166557-78a4-43a8-843d-dffbe24fa1ab', pipeline_id: '56', sequence_number: 392, id: 'Microsoft.PowerShell',
    engine: { version: '4.0' }, command: { type: 'Script', invocation_details: [{ type: 'CommandInvocation', related_command: 'Out-Default', value: 'Out-Default' }] },
    user: 'OFFSEC\\admmig',
  });
  assert.deepEqual(e4103.user, { name: 'admmig', domain: 'OFFSEC' });
  const e4104 = one('P3_Powershell_4104_MiniDumpWriteDump_Lsass.evtx', (r) => r.event_id === 4104);
  assert.match(e4104.powershell?.file?.script_block_text ?? '', /MiniDumpWriteDump/);
  assert.match(e4104.powershell?.file?.script_block_id ?? '', /^[0-9a-f-]{36}$/);
  assert.equal(e4104.powershell?.total, 1);
  const files = corpusFiles();
  const all = files.flatMap((f) => referenceRecords(f).map((r) => ({ f, r })));
  for (const id of [4100, 40961, 40962, 53504]) {
    const x = all.find(({ r }) => r.event_id === id && r.channel === 'Microsoft-Windows-PowerShell/Operational');
    assert.ok(x, `corpus has ${id}`);
    const res = norm.normalize(x.r, { format: 'evtx', file: x.f });
    assert.ok(res.ok);
    assert.ok(res.event.event.action, `${id} classified`);
  }
});

test('Sysmon 1, 3, 5, 22 and Firewall 2004', { skip: SKIP_NO_SHARED }, () => {
  const e3 = one('L7_LM_wmiexec_impacket_sysmon_whoami.evtx', (r) => r.event_id === 3);
  assert.deepEqual(e3.source, { ip: '10.0.2.18', port: 445, domain: 'IEWIN7' });
  assert.deepEqual(e3.destination, { ip: '10.0.2.19', port: 45616 });
  assert.deepEqual(e3.network, { transport: 'tcp', direction: 'inbound' });
  const e5 = one('N2_Sysmon_UACME_64.evtx', (r) => r.event_id === 5);
  assert.ok(e5.process?.pid && e5.process.executable);
  const e22 = one('N2_Sysmon_UACME_64.evtx', (r) => r.event_id === 22);
  assert.ok(e22.dns?.question?.name);
  const fw = one('F1_ID2004-New_firewall_rule_created_by_PowerShell.evtx', (r) => r.event_id === 2004);
  assert.deepEqual(fw.rule, { id: '{94E28D60-6722-4133-B7A0-0A6456B70829}', name: 'Gentil-rule' });
  assert.equal(fw.process?.executable, 'C:\\Program Files\\IDM\\idm.exe');
  assert.equal(fw.network?.direction, 'outbound');
  assert.equal(fw.event.action, 'firewall-rule-added');
});
