// The three real multi-host datasets (../shared/datasets/README.md): exactly one paired session each, with
// the source, destination, user, time and commands the README describes, and nothing for the event
// forwarding traffic to the collector.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SKIP_NO_SHARED, sharedPath } from '../support/shared.js';
import { hunt, loadEvents, sessionsOf } from './support.js';
import { Session } from '../../detectors/session.js';
import type { Session as SessionT } from '../../detectors/session.js';

async function sessions(): Promise<SessionT[]> {
  return sessionsOf(hunt(await loadEvents(sharedPath('datasets')), { batch: true }));
}

const find = (ss: SessionT[], dst: string) => {
  const s = ss.find((x) => x.destination.host === dst);
  assert.ok(s, `a session to ${dst}: ${ss.map((x) => x.destination.host).join(', ')}`);
  return s;
};
const texts = (s: SessionT, side?: string) => s.commands.filter((c) => !side || c.side === side).map((c) => c.text);

test('datasets: exactly three sessions, each paired, schema-valid, none for event forwarding', { skip: SKIP_NO_SHARED }, async () => {
  const ss = await sessions();
  assert.deepEqual(ss.map((s) => `${s.source.host} -> ${s.destination.host}`).sort(), [
    'hr001.shire.com -> it001.shire.com',
    'workstation5.theshire.local -> workstation6.theshire.local',
    'workstation6.mssentinel.local -> dc01.mssentinel.local',
  ]);
  for (const s of ss) {
    assert.equal(Session.safeParse(s).success, true, JSON.stringify(Session.safeParse(s).error?.issues));
    assert.equal(s.paired, true);
    assert.equal(s.kind, 'psremoting');
    assert.equal(s.unpaired_reason, undefined);
    assert.equal(s.auth, 'Kerberos');
    assert.equal(s.user.name?.toLowerCase(), 'pgustavo');
    assert.ok(s.confidence >= 0.9);
    // Every evidence record points at its file and record.
    assert.ok(s.evidence.every((e) => e.file && e.record_id !== undefined), 'evidence has file + record id');
  }
  // Event forwarding: no evidence from svchost flows to a collector, no WEC host anywhere.
  const hosts = new Set(ss.flatMap((s) => s.evidence.map((e) => e.host.split('.')[0])));
  assert.deepEqual([...hosts].sort(), ['dc01', 'hfdc01', 'hr001', 'it001', 'mordordc', 'workstation5', 'workstation6']);
  // The DCs appear only through the 4769 that ties the halves together.
  assert.deepEqual(ss.flatMap((s) => s.evidence.filter((e) => e.side === 'dc').map((e) => `${e.host} ${e.event_id}`)).sort(), [
    'hfdc01.shire.com 4769', 'mordordc.theshire.local 4769',
  ]);
});

test('covenant: WORKSTATION5 -> WORKSTATION6, Invoke-Command { get-process } and 4103 Get-Process', { skip: SKIP_NO_SHARED }, async () => {
  const s = find(await sessions(), 'workstation6.theshire.local');
  assert.equal(s.source.ip, '172.18.39.5');
  assert.equal(s.destination.ip, '172.18.39.6');
  assert.equal(s.source.user, 'THESHIRE\\pgustavo');
  assert.equal(s.logon_id, '0x1121f34');
  assert.equal(s.start, '2020-08-06T15:56:22.000Z');
  assert.equal(s.end, '2020-08-06T15:56:34.000Z');
  assert.ok(texts(s, 'source').some((t) => t.includes('Invoke-Command -ComputerName WORKSTATION6 -ScriptBlock { get-process }')));
  assert.deepEqual(texts(s, 'destination'), ['Get-Process']);
  assert.ok(!s.commands.some((c) => c.type === 'process'), 'no child process');
  const ids = (side: string) => [...new Set(s.evidence.filter((e) => e.side === side).map((e) => e.event_id))].sort((a, b) => a - b);
  assert.deepEqual(ids('source'), [3, 800, 4648]);
  assert.deepEqual(ids('destination'), [1, 3, 5, 400, 403, 600, 800, 4103, 4624, 4634, 4672, 4688, 4689, 5156, 53504]);
  assert.equal(s.evidence.filter((e) => e.event_id === 4648).length, 5);
  assert.equal(s.evidence.filter((e) => e.side === 'destination' && e.event_id === 4624).length, 5, 'each WinRM connection logs on');
});

test('sd2: WORKSTATION6 -> DC01, net user PSRemoting /add as children of wsmprovhost', { skip: SKIP_NO_SHARED }, async () => {
  const s = find(await sessions(), 'dc01.mssentinel.local');
  assert.equal(s.source.ip, '192.168.2.6');
  assert.equal(s.destination.ip, '192.168.2.4');
  assert.equal(s.logon_id, '0x24c771f6');
  assert.ok(s.start >= '2022-09-26T23:26:05' && s.start < '2022-09-26T23:26:06', s.start);
  assert.ok(s.end >= '2022-09-26T23:26:08' && s.end < '2022-09-26T23:26:10', s.end);
  assert.deepEqual(texts(s, 'destination'), [
    '"C:\\Windows\\system32\\net.exe" user PSRemoting Fall2022 /add',
    '\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1',
    'C:\\Windows\\system32\\net1 user PSRemoting Fall2022 /add',
  ]);
  const src = new Set(s.evidence.filter((e) => e.side === 'source').map((e) => e.event_id));
  for (const id of [6, 11, 13, 15, 16, 8, 33, 5156, 3]) assert.ok(src.has(id), `source evidence ${id}`);
  const dst = new Set(s.evidence.filter((e) => e.side === 'destination').map((e) => e.event_id));
  for (const id of [4624, 4688, 1, 91, 4720, 4722, 4724, 4738, 5156, 3]) assert.ok(dst.has(id), `destination evidence ${id}`);
  assert.equal(s.evidence.filter((e) => e.side === 'destination' && e.event_id === 4624).length, 5);
});

test('empire: HR001 -> IT001, stager, decoded 4104 and whoami', { skip: SKIP_NO_SHARED }, async () => {
  const s = find(await sessions(), 'it001.shire.com');
  assert.equal(s.source.ip, '172.18.39.106');
  assert.equal(s.destination.ip, '172.18.39.105');
  assert.equal(s.logon_id, '0x14b7b5b');
  assert.ok(s.start >= '2019-05-18T21:15:32' && s.start < '2019-05-18T21:15:35', s.start);
  const procs = s.commands.filter((c) => c.type === 'process');
  assert.ok(procs[0].text.includes('powershell.exe" -noP -sta -w 1 -enc '));
  assert.deepEqual(procs.map((c) => c.time), ['2019-05-18T21:15:35.882Z', '2019-05-18T21:15:35.903Z', '2019-05-18T21:17:16.650Z']);
  assert.equal(procs[2].text, '"C:\\Windows\\system32\\whoami.exe"');
  const script = s.commands.find((c) => c.type === 'script');
  assert.ok(script?.text.includes('EnableScriptBlockInvocationLogging'), 'the decoded stager (4104)');
  // Source: the runspace pool of powershell.exe 5204 and its three connections to 5985.
  const src = s.evidence.filter((e) => e.side === 'source');
  assert.ok(src.some((e) => e.event_id === 8194) && src.filter((e) => e.event_id === 5156).length === 3);
});
