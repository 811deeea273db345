// The WinRM posture rules and the benign patterns, on events built by test/support/events.ts: the shared
// corpus and datasets hold no Basic/CredSSP logon, no TrustedHosts change, no WinRM firewall rule, no
// Remote Management Users grant. These events are synthetic, shaped as the normalizer shapes real ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findingsFor, type Finding } from '../../detectors/findings/index.js';
import type { SessionLike } from '../../detectors/findings/session-shape.js';
import { buildEvent, processCreate, scriptBlock, WINRM_OP, WINRM_PROVIDER } from '../support/events.js';

const T = '2024-03-01T10:00:00.000Z';
const at = (s: number): string => new Date(Date.parse(T) + s * 1000).toISOString();
const rules = (fs: Finding[]): string[] => fs.map((f) => `${f.rule}:${f.severity}`).sort();

test('WinRM 169: Basic, CredSSP, NTLM logons (synthetic)', () => {
  const ev = (mech: string, user: string) => buildEvent({ host: 'srv1.corp.local', channel: WINRM_OP, provider: WINRM_PROVIDER, id: 169, time: T, extra: { winrm: { authentication_mechanism: mech, user, operation: 'user_authenticated' } } });
  assert.deepEqual(rules(findingsFor([ev('Basic', 'CORP\\bob')], { sessions: [] })), ['posture.basic-auth:high']);
  assert.deepEqual(rules(findingsFor([ev('CredSSP', 'CORP\\bob')], { sessions: [] })), ['posture.credssp:high']);
  assert.deepEqual(rules(findingsFor([ev('NTLM', 'CORP\\bob')], { sessions: [] })), ['posture.ntlm:low']);
  assert.deepEqual(rules(findingsFor([ev('Kerberos', 'CORP\\bob')], { sessions: [] })), []);
});

test('WinRM 6 to an IP address is NTLM remoting (medium); to a name or loopback, or by NETWORK SERVICE, nothing (synthetic)', () => {
  const six = (target: string, user?: { name: string; domain: string }) => buildEvent({
    host: 'ws1.corp.local', channel: WINRM_OP, provider: WINRM_PROVIDER, id: 6, time: T,
    extra: { winrm: { operation: 'create_session', connection: `${target}/wsman`, target }, ...(user ? { user } : {}) },
  });
  assert.deepEqual(rules(findingsFor([six('10.1.2.3', { name: 'bob', domain: 'CORP' })], { sessions: [] })), ['posture.ntlm:medium']);
  assert.deepEqual(rules(findingsFor([six('srv1.corp.local', { name: 'bob', domain: 'CORP' })], { sessions: [] })), []);
  assert.deepEqual(rules(findingsFor([six('127.0.0.1', { name: 'bob', domain: 'CORP' })], { sessions: [] })), []);
  assert.deepEqual(rules(findingsFor([six('10.1.2.3', { name: 'NETWORK SERVICE', domain: 'NT AUTHORITY' })], { sessions: [] })), []);
});

test('configuration commands: CredSSP, TrustedHosts (* is high), Enable-PSRemoting, listener, Basic, AllowUnencrypted (synthetic)', () => {
  const cases: [string, string][] = [
    ['Enable-WSManCredSSP -Role Client -DelegateComputer *', 'posture.credssp:high'],
    ["Set-Item WSMan:\\localhost\\Client\\TrustedHosts -Value '*' -Force", 'posture.trustedhosts:high'],
    ['Set-Item WSMan:\\localhost\\Client\\TrustedHosts -Value srv2 -Concatenate', 'posture.trustedhosts:medium'],
    ['winrm set winrm/config/client @{TrustedHosts="*"}', 'posture.trustedhosts:high'],
    ['Enable-PSRemoting -Force', 'posture.enable-remoting:medium'],
    ['Enable-PSRemoting -SkipNetworkProfileCheck -Force', 'posture.enable-remoting:high'],
    ['winrm quickconfig -q', 'posture.enable-remoting:medium'],
    ['winrm create winrm/config/Listener?Address=*+Transport=HTTP @{Port="8080"}', 'posture.listener:medium'],
    ['winrm set winrm/config/service/auth @{Basic="true"}', 'posture.basic-auth:high'],
    ['Set-Item -Path WSMan:\\localhost\\Service\\AllowUnencrypted -Value $true', 'posture.unencrypted:high'],
    ['winrm set winrm/config/service @{AllowUnencrypted="true"}', 'posture.unencrypted:high'],
  ];
  for (const [cmd, want] of cases) {
    const fs = findingsFor([scriptBlock('srv1.corp.local', T, cmd)], { sessions: [] });
    assert.deepEqual(rules(fs), [want], cmd);
    assert.equal(fs[0].evidence[0].event_id, 4104);
  }
  // Reading TrustedHosts is not a change.
  assert.deepEqual(rules(findingsFor([scriptBlock('srv1.corp.local', T, 'Get-Item WSMan:\\localhost\\Client\\TrustedHosts')], { sessions: [] })), []);
});

test('firewall opened for 5985/5986: Firewall 2004/2005 (public profile high), netsh, Set-NetFirewallRule (synthetic)', () => {
  const fw = (id: number, ports: string, profiles: string) => buildEvent({
    host: 'srv1.corp.local', channel: 'Microsoft-Windows-Windows Firewall With Advanced Security/Firewall', provider: 'Microsoft-Windows-Windows Firewall With Advanced Security', id, time: T,
    data: { RuleId: '{1}', RuleName: 'open remoting', LocalPorts: ports, Profiles: profiles, Direction: '1', Action: '3' },
  });
  assert.deepEqual(rules(findingsFor([fw(2004, '5985', '4')], { sessions: [] })), ['posture.firewall:high']);
  assert.deepEqual(rules(findingsFor([fw(2005, '5985,5986', '3')], { sessions: [] })), ['posture.firewall:medium']);
  assert.deepEqual(rules(findingsFor([fw(2004, '445', '7')], { sessions: [] })), []);
  assert.deepEqual(rules(findingsFor([processCreate('srv1.corp.local', T, 'netsh advfirewall firewall add rule name=rm dir=in action=allow protocol=TCP localport=5985 profile=any')], { sessions: [] })), ['posture.firewall:high']);
  assert.deepEqual(rules(findingsFor([scriptBlock('srv1.corp.local', T, "Set-NetFirewallRule -Name 'WINRM-HTTP-In-TCP' -RemoteAddress Any")], { sessions: [] })), ['posture.firewall:medium']);
});

test('remoting granted to non-admins: 4732 Remote Management Users, SDDL, net localgroup (synthetic)', () => {
  const e4732 = buildEvent({
    host: 'srv1.corp.local', channel: 'Security', provider: 'Microsoft-Windows-Security-Auditing', id: 4732, time: T,
    data: { MemberName: 'CN=eve,CN=Users,DC=corp,DC=local', MemberSid: 'S-1-5-21-1-2-3-1111', TargetUserName: 'Remote Management Users', TargetDomainName: 'Builtin', TargetSid: 'S-1-5-32-580' },
  });
  const fs = findingsFor([e4732], { sessions: [] });
  assert.deepEqual(rules(fs), ['posture.non-admin-access:high']);
  assert.match(fs[0].summary, /eve/);
  // 4732 to Administrators (the real L6 case) is not this rule.
  const admins = buildEvent({ host: 'srv1', channel: 'Security', provider: 'Microsoft-Windows-Security-Auditing', id: 4732, time: T, data: { TargetUserName: 'Administrators', TargetSid: 'S-1-5-32-544' } });
  assert.deepEqual(findingsFor([admins], { sessions: [] }), []);
  assert.deepEqual(rules(findingsFor([scriptBlock('srv1', T, 'Set-PSSessionConfiguration -Name Microsoft.PowerShell -SecurityDescriptorSddl "O:NSG:BAD:P(A;;GA;;;BA)(A;;GA;;;AU)"')], { sessions: [] })), ['posture.non-admin-access:high']);
  assert.deepEqual(rules(findingsFor([processCreate('srv1', T, 'net localgroup "Remote Management Users" eve /add')], { sessions: [] })), ['posture.non-admin-access:high']);
});

test('WinRM 161/162 failures burst; a few do not (synthetic)', () => {
  const fail = (i: number) => buildEvent({ host: 'srv1.corp.local', channel: WINRM_OP, provider: WINRM_PROVIDER, id: 161, time: at(i * 5), extra: { winrm: { operation: 'authentication_failed' } } });
  assert.deepEqual(rules(findingsFor(Array.from({ length: 12 }, (_, i) => fail(i)), { sessions: [] })), ['auth.winrm-failures:medium']);
  assert.deepEqual(findingsFor(Array.from({ length: 5 }, (_, i) => fail(i)), { sessions: [] }), []);
  // Spread over an hour: no burst.
  const slow = Array.from({ length: 12 }, (_, i) => buildEvent({ host: 'srv1', channel: WINRM_OP, provider: WINRM_PROVIDER, id: 162, time: at(i * 600) }));
  assert.deepEqual(findingsFor(slow, { sessions: [] }), []);
});

const session = (over: Partial<SessionLike>): SessionLike => ({
  session_id: 's1', kind: 'psremoting', paired: true, source: { host: 'ws1.corp.local', ip: '10.0.0.5' }, destination: { host: 'srv1.corp.local', ip: '10.0.0.9' },
  user: { name: 'bob', domain: 'CORP' }, auth: 'Kerberos', start: T, end: at(60), commands: [], confidence: 0.9, evidence: [], ...over,
});

test('known benign: event forwarding to a collector and loopback remoting raise nothing (synthetic)', () => {
  const wefFlow = buildEvent({
    host: 'ws1.corp.local', channel: 'Microsoft-Windows-Sysmon/Operational', provider: 'Microsoft-Windows-Sysmon', id: 3, time: T,
    extra: { process: { pid: 900, name: 'svchost.exe', executable: 'C:\\Windows\\System32\\svchost.exe' }, user: { name: 'NETWORK SERVICE', domain: 'NT AUTHORITY' }, source: { ip: '10.0.0.5', port: 50000 }, destination: { ip: '10.0.0.50', port: 5985 }, network: { transport: 'tcp', direction: 'outbound' } },
  });
  const wef = session({ kind: 'winrm-unknown', user: { name: 'WS1$', domain: 'CORP' }, destination: { host: 'wec.corp.local', ip: '10.0.0.50' } });
  assert.deepEqual(findingsFor([wefFlow], { sessions: [wef] }), []);
  // Even as psremoting kind, NETWORK SERVICE with no command to the observed collector is forwarding.
  const wef2 = session({ user: { name: 'NETWORK SERVICE', domain: 'NT AUTHORITY' }, destination: { host: 'wec.corp.local', ip: '10.0.0.50' } });
  assert.deepEqual(findingsFor([wefFlow], { sessions: [wef2] }), []);
  // A real user to the same collector is not forwarding.
  assert.deepEqual(rules(findingsFor([wefFlow], { sessions: [session({ destination: { host: 'wec.corp.local', ip: '10.0.0.50' } })] })), ['remote-exec.psremoting:high']);
  // Loopback.
  assert.deepEqual(findingsFor([], { sessions: [session({ destination: { host: 'ws1.corp.local' } })] }), []);
  assert.deepEqual(findingsFor([], { sessions: [session({ destination: { host: 'localhost', ip: '127.0.0.1' } })] }), []);
});

test('remote execution per kind, chain and fan-out from the session engine\'s records (synthetic sessions)', () => {
  const s = [
    session({ session_id: 'a', kind: 'winrs' }),
    session({ session_id: 'b', kind: 'wsman-wmi', source: { host: 'srv1.corp.local' }, destination: { host: 'srv2.corp.local' }, start: at(120), end: at(180) }),
    session({ session_id: 'c', source: { host: 'srv1.corp.local' }, destination: { host: 'srv3.corp.local' }, start: at(130), end: at(190) }),
    session({ session_id: 'd', source: { host: 'srv1.corp.local' }, destination: { host: 'srv4.corp.local' }, start: at(140), end: at(200), paired: false, unpaired_reason: 'no source half' }),
  ];
  const chains = [{ hosts: ['ws1.corp.local', 'srv1.corp.local', 'srv2.corp.local'], users: ['CORP\\bob'], start: T, end: at(120), session_ids: ['a', 'b'] }];
  const fanouts = [{ source: 'srv1.corp.local', destinations: ['srv2.corp.local', 'srv3.corp.local', 'srv4.corp.local'], start: at(120), end: at(140), session_ids: ['b', 'c', 'd'] }];
  const fs = findingsFor([], { sessions: s, chains, fanouts });
  assert.deepEqual(rules(fs), ['lateral.chain:high', 'lateral.fanout:high', 'remote-exec.psremoting:high', 'remote-exec.psremoting:medium', 'remote-exec.winrs:high', 'remote-exec.wsman-wmi:high']);
  const chain = fs.find((f) => f.rule === 'lateral.chain');
  assert.deepEqual(chain?.hops.map((h) => `${h.source}>${h.destination}`), ['ws1.corp.local>srv1.corp.local', 'srv1.corp.local>srv2.corp.local']);
  assert.deepEqual(fs.find((f) => f.rule === 'remote-exec.winrs')?.attack, ['T1021.006', 'T1059.003']);
  assert.deepEqual(fs.find((f) => f.rule === 'remote-exec.wsman-wmi')?.attack, ['T1021.006', 'T1047']);
  // NTLM session to an IP address.
  const ntlm = findingsFor([], { sessions: [session({ auth: 'NTLM', destination: { host: '10.0.0.9', ip: '10.0.0.9' } })] });
  assert.ok(ntlm.some((f) => f.rule === 'posture.ntlm' && f.severity === 'medium'));
});
