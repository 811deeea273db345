// Real collector JSON (../shared/datasets): every event normalizes, and the remoting-relevant fields of
// each set come out right, with times in true UTC (NXLog local time and the 12-hour export bug repaired).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NormalizedEvent } from '../../schemas/event.js';
import { normalizeFiles, type PipelineItem } from '../../ingest/pipeline.js';
import { expandPaths } from '../../ingest/sources.js';
import { SKIP_NO_SHARED, HAVE_SHARED, sharedPath } from '../support/shared.js';

interface Run { events: NormalizedEvent[]; others: PipelineItem[] }
let cached: Promise<Run> | undefined;
function run(): Promise<Run> {
  return (cached ??= (async () => {
    const files = await expandPaths([sharedPath('datasets')]);
    const events: NormalizedEvent[] = [];
    const others: PipelineItem[] = [];
    for await (const it of normalizeFiles(files, { validate: NormalizedEvent })) {
      if (it.kind === 'event') events.push(it.event);
      else others.push(it);
    }
    return { events, others };
  })());
}

const by = (evs: NormalizedEvent[], host: string, id: number, channel?: string): NormalizedEvent[] =>
  evs.filter((e) => e.host.hostname === host && e.winlog.event_id === id && (channel === undefined || e.winlog.channel === channel));

test('every dataset event normalizes, zod-valid, with no reject', { skip: SKIP_NO_SHARED }, async () => {
  const { events, others } = await run();
  assert.deepEqual(others.map((o) => JSON.stringify(o).slice(0, 300)), []);
  // 5667 Winlogbeat 6 + 4284 NXLog + 1006 Export-WinEvents
  assert.equal(events.length, 10957);
  const formats = new Map<string, number>();
  for (const e of events) formats.set(e.hoptrail.provenance.format, (formats.get(e.hoptrail.provenance.format) ?? 0) + 1);
  assert.deepEqual(Object.fromEntries(formats), { 'export-winevents': 1006, nxlog: 4284, winlogbeat6: 5667 });
  assert.ok(events.every((e) => !e.hoptrail.clock?.unrepaired), 'every clock repaired');
  assert.ok(events.every((e) => !JSON.stringify(e.winlog.event_data ?? {}).includes('":"-"')), 'no "-" placeholders left');
});

test('covenant (NXLog): WORKSTATION5 -> WORKSTATION6, local UTC-4 repaired', { skip: SKIP_NO_SHARED }, async () => {
  const { events } = await run();
  const e800 = by(events, 'workstation5', 800).find((e) => /Invoke-Command/.test(e.powershell?.command?.value ?? ''));
  assert.ok(e800);
  assert.equal(e800.powershell?.command?.value, '$Credential = New-Object System.Management.Automation.PSCredential("theshire.local\\pgustavo", (ConvertTo-SecureString "W1n1!2019" -AsPlainText -Force)); Invoke-Command -ComputerName WORKSTATION6 -ScriptBlock { get-process } -Credential $Credential');
  assert.equal(e800.powershell?.host?.application, 'C:\\Users\\pgustavo\\Desktop\\GruntHTTP.exe');
  assert.equal(e800.powershell?.runspace_id, 'c29fc763-8042-4723-b209-828e87421411');
  assert.equal(e800['@timestamp'], '2020-08-06T15:56:22.000Z');
  assert.deepEqual(e800.hoptrail.clock, { original: '2020-08-06 11:56:22', tz_offset_minutes: -240, tz_source: 'sysmon-host' });
  assert.deepEqual(e800.user, { name: 'pgustavo', domain: 'THESHIRE' });

  // Destination: 400 with HostName=ServerRemoteHost, 4103 Get-Process with connected user.
  const e400 = by(events, 'workstation6', 400).find((e) => e.powershell?.host?.name === 'ServerRemoteHost');
  assert.ok(e400);
  assert.equal(e400.powershell?.host?.application, 'C:\\windows\\system32\\wsmprovhost.exe -Embedding');
  assert.equal(e400['@timestamp'], '2020-08-06T15:56:24.000Z');
  const e4103 = by(events, 'workstation6', 4103)[0];
  assert.equal(e4103.powershell?.command?.name, 'Get-Process');
  assert.equal(e4103.powershell?.command?.type, 'Cmdlet');
  assert.equal(e4103.powershell?.host?.name, 'ServerRemoteHost');
  assert.equal(e4103.powershell?.connected_user, 'THESHIRE\\pgustavo');
  assert.equal(e4103.powershell?.id, 'Microsoft.PowerShell');
  assert.deepEqual(e4103.powershell?.command?.invocation_details, [{ type: 'CommandInvocation', related_command: 'Get-Process', value: 'Get-Process' }]);

  // Destination 4624: type 3 Kerberos by pgustavo, source address placeholder absent.
  const logons = by(events, 'workstation6', 4624).filter((e) => e.user?.name === 'pgustavo');
  assert.ok(logons.length >= 1);
  for (const l of logons) {
    assert.equal(l.winlog.logon?.type_code, 3);
    assert.equal(l.winlog.logon?.type, 'Network');
    assert.equal(l.winlog.logon?.auth_package, 'Kerberos');
    assert.match(l.winlog.logon?.id ?? '', /^0x[0-9a-f]+$/);
    assert.equal(l.source?.ip, undefined);
  }
  // Source 4648 x5 naming WORKSTATION6.
  const e4648 = by(events, 'workstation5', 4648);
  assert.equal(e4648.length, 5);
  assert.ok(e4648.every((e) => e.destination?.domain === 'WORKSTATION6'));
  // Source 5156 to 5985, outbound, tcp.
  const conns = by(events, 'workstation5', 5156).filter((e) => e.destination?.port === 5985);
  assert.equal(conns.length, 3);
  assert.ok(conns.every((e) => e.network?.direction === 'outbound' && e.network.transport === 'tcp' && e.destination?.ip === '172.18.39.6'));
  // DC 4769 for WORKSTATION6$ from .5
  const tgs = by(events, 'mordordc', 4769)[0];
  assert.equal(tgs.service?.name, 'WORKSTATION6$');
  assert.equal(tgs.source?.ip, '172.18.39.5');
  // Host names: lower-case FQDN and short.
  assert.equal(e800.host.name, 'workstation5.theshire.local');
  assert.equal(e800.host.hostname, 'workstation5');
});

test('sd2 (Export-WinEvents): 12-hour TimeGenerated repaired to 23:26Z, WinRM client events', { skip: SKIP_NO_SHARED }, async () => {
  const { events } = await run();
  const e6 = by(events, 'workstation6', 6, 'Microsoft-Windows-WinRM/Operational');
  assert.equal(e6.length, 1);
  assert.equal(e6[0].winrm?.connection, 'DC01.mssentinel.local/wsman?PSVersion=5.1.19041.1320');
  assert.equal(e6[0].winrm?.target, 'dc01.mssentinel.local');
  assert.equal(e6[0].winrm?.operation, 'create_session');
  assert.equal(e6[0]['@timestamp'], '2022-09-26T23:26:05.750Z');
  assert.deepEqual(e6[0].hoptrail.clock, { original: '2022-09-26T11:26:05.750Z', hours_added: 12, half_source: 'sysmon-host' });
  const e11 = by(events, 'workstation6', 11, 'Microsoft-Windows-WinRM/Operational')[0];
  assert.equal(e11.winrm?.resource_uri, 'http://schemas.microsoft.com/powershell/Microsoft.PowerShell');
  assert.equal(e11.winrm?.shell_id, '9DB0731A-FFA8-45B5-8023-9A271FD214DF');
  assert.deepEqual(by(events, 'workstation6', 13, 'Microsoft-Windows-WinRM/Operational').map((e) => e.winrm?.command_id), ['0FADCF52-22C9-46AE-A0E5-F098A637918F', '6D87098A-3909-487A-9970-1C1959EA1DE6']);
  const e91 = by(events, 'dc01', 91, 'Microsoft-Windows-WinRM/Operational')[0];
  assert.equal(e91['@timestamp'], '2022-09-26T23:26:06.113Z');
  // Every sd2 time within the attack window 23:26:0x (Sysmon aside, whose activity spans a little more).
  const sd2 = events.filter((e) => e.hoptrail.provenance.format === 'export-winevents' && e.winlog.channel !== 'Microsoft-Windows-Sysmon/Operational');
  assert.ok(sd2.every((e) => e['@timestamp'].startsWith('2022-09-26T23:2')), sd2.map((e) => e['@timestamp']).filter((t) => !t.startsWith('2022-09-26T23:2')).slice(0, 3).join());
  // DC01: 4624 type 3 (three), the account created by net.exe under wsmprovhost.
  const dcLogons = by(events, 'dc01', 4624).filter((e) => e.user?.name === 'pgustavo');
  // Three TCP connections, five network logons (each its own logon ID).
  assert.deepEqual(dcLogons.map((e) => e.winlog.logon?.id), ['0x24c771f6', '0x24c78de2', '0x24c79d22', '0x24c7cf15', '0x24c7cf88']);
  assert.equal(dcLogons[0]['@timestamp'], '2022-09-26T23:26:05.836Z');
  assert.ok(dcLogons.every((e) => e.winlog.logon?.type_code === 3 && e.winlog.logon.auth_package === 'Kerberos'));
  const e4720 = by(events, 'dc01', 4720)[0];
  assert.equal(e4720.user?.target?.name, 'PSRemoting');
  assert.equal(e4720.user?.name, 'pgustavo');
  const net = by(events, 'dc01', 1, 'Microsoft-Windows-Sysmon/Operational').find((e) => e.process?.name === 'net.exe');
  assert.ok(net);
  assert.equal(net.process?.parent?.name, 'wsmprovhost.exe');
  assert.equal(net.process?.command_line, '"C:\\Windows\\system32\\net.exe" user PSRemoting Fall2022 /add');
});

test('empire (Winlogbeat 6): 400 ServerRemoteHost on IT001, runspace events on HR001, UTC kept', { skip: SKIP_NO_SHARED }, async () => {
  const { events } = await run();
  const e400 = by(events, 'it001', 400).find((e) => e.powershell?.host?.name === 'ServerRemoteHost');
  assert.ok(e400);
  assert.equal(e400['@timestamp'], '2019-05-18T21:15:35.402Z');
  assert.equal(e400.hoptrail.clock, undefined);
  assert.equal(e400.powershell?.runspace_id, 'c41c5291-246f-464f-85e7-c94a3ff6e450');
  assert.equal(e400.powershell?.engine?.new_state, 'Available');
  const e8193 = by(events, 'hr001', 8193)[0];
  assert.equal(e8193.winlog.process?.pid, 5204);
  assert.equal(e8193.powershell?.runspace_id, '1b9c8bf0-e0e8-48fa-b028-c1d7b95dcf9d');
  const dest = by(events, 'it001', 4624).filter((e) => e.winlog.logon?.type_code === 3 && e.user?.name === 'pgustavo');
  assert.ok(dest.length >= 1);
  const tgs = by(events, 'hfdc01', 4769).find((e) => e.service?.name === 'IT001$');
  assert.ok(tgs);
  assert.equal(tgs.source?.ip, '172.18.39.106');
  assert.equal(tgs.user?.name, 'pgustavo');
  // The 4769's LogonGuid equals the destination 4624's.
  assert.ok(dest.some((e) => e.winlog.logon?.guid === tgs.winlog.logon?.guid), `4769 guid ${tgs.winlog.logon?.guid}`);
  const stager = by(events, 'it001', 1, 'Microsoft-Windows-Sysmon/Operational').find((e) => e.process?.parent?.name?.toLowerCase() === 'wsmprovhost.exe');
  assert.ok(stager);
  assert.match(stager.process?.command_line ?? '', /powershell\.exe" -noP -sta -w 1 -enc /);
  // Sysmon 3 Initiated=true is outbound.
  const s3 = by(events, 'hr001', 3, 'Microsoft-Windows-Sysmon/Operational').find((e) => e.destination?.ip === '172.18.39.105' && e.destination.port === 5985);
  assert.ok(s3);
  assert.equal(s3.network?.direction, 'outbound');
  assert.equal(s3.network?.transport, 'tcp');
});

test('one real example per remaining listed event ID in the datasets', { skip: SKIP_NO_SHARED }, async () => {
  const { events } = await run();
  const rec = (host: string, id: number, recordId: number): NormalizedEvent => {
    const e = by(events, host, id).find((x) => x.winlog.record_id === recordId);
    assert.ok(e, `${host} ${id} record ${recordId}`);
    return e;
  };
  const e4634 = rec('mordordc', 4634, 444784);
  assert.deepEqual([e4634.user?.name, e4634.winlog.logon?.id, e4634.winlog.logon?.type_code, e4634.event.action], ['MORDORDC$', '0x1493896', 3, 'logged-out']);
  const e4689 = rec('workstation6', 4689, 134870);
  assert.deepEqual(e4689.process, { pid: 7540, executable: 'C:\\Windows\\System32\\taskhostw.exe', name: 'taskhostw.exe' });
  for (const [id, action, rid] of [[4722, 'enabled-user-account', 7449104], [4724, 'reset-password', 7449105], [4738, 'modified-user-account', 7449106]] as const) {
    const e = rec('dc01', id, rid);
    assert.equal(e.event.action, action);
    assert.deepEqual(e.user?.target, { name: 'PSRemoting', domain: 'MSSENTINEL', id: 'S-1-5-21-1569727641-2518674866-3296776394-1115' });
    assert.equal(e.winlog.logon?.id, '0x24c771f6', 'done in the first remoting logon');
  }
  const e4768 = rec('mordordc', 4768, 444816);
  assert.deepEqual([e4768.user?.name, e4768.source?.ip, e4768.service?.name, e4768.event.outcome], ['pgustavo', '172.18.39.5', 'krbtgt', 'success']);
  const e5145 = rec('mordordc', 5145, 444797);
  assert.equal(e5145.file?.path, '\\\\*\\SYSVOL\\');
  const e7040 = rec('workstation6', 7040, 582);
  assert.deepEqual(e7040.service, { name: 'NdisCap', start_type: 'demand start' });
  assert.deepEqual([8, 15, 16, 31, 33].map((id) => by(events, 'workstation6', id, 'Microsoft-Windows-WinRM/Operational').map((e) => e.winrm?.operation)),
    [['close_session'], ['close_command', 'close_command'], ['close_shell'], ['create_session_completed'], ['close_session_completed']]);
  const e4105 = rec('it001', 4105, 2321);
  assert.deepEqual(e4105.powershell, { file: { script_block_id: 'bc494c07-1f34-4ed1-a315-834993b1c051' }, runspace_id: 'c41c5291-246f-464f-85e7-c94a3ff6e450' });
  assert.equal(rec('it001', 4106, 2322).event.action, 'stopped-command');
  assert.equal(rec('hr001', 8194, 104123).powershell?.runspace_id, 'd683f2a4-16ed-4b0c-b433-e2f9b8b1a6a9');
  assert.equal(rec('hr001', 8195, 104124).event.action, 'open-runspace-pool');
  assert.equal(rec('hr001', 8196, 104138).event.action, 'modify-runspace-pool');
  assert.equal(rec('hr001', 8197, 104125).powershell?.engine?.new_state, 'Opening');
  assert.equal(rec('hr001', 12039, 104139).winlog.activity_id, '{D683F2A4-16ED-4B0C-B433-E2F9B8B1A6A9}');
  const e403 = rec('workstation6', 403, 1449);
  assert.deepEqual([e403.powershell?.host?.name, e403.powershell?.engine?.new_state, e403.powershell?.runspace_id], ['ServerRemoteHost', 'Stopped', 'c1c61e0c-fa39-457f-bb50-49692f950904']);
  assert.deepEqual(rec('workstation5', 600, 1175).powershell?.provider, { name: 'Registry', new_state: 'Started' });
  const e5857 = rec('hr001', 5857, 1012);
  assert.deepEqual(e5857.process, { pid: 2036, name: 'wmiprvse.exe' });
  assert.equal(e5857.winlog.user_data?.ProviderName, 'WmiPerfInst');
  assert.equal(e5857.winlog.user_data?.xml_name, undefined);
  assert.equal(rec('workstation6', 5, 478628).process?.entity_id, '{49A15388-281E-5F2C-4205-000000000400}');
  assert.equal(rec('workstation5', 22, 401000).dns?.question?.name, '_kerberos._tcp.Default-First-Site-Name._sites.dc._msdcs.theshire.local.');
});

if (!HAVE_SHARED) test('datasets tests need ../shared', { skip: SKIP_NO_SHARED }, () => {});
