// Each pairing key on its own, on the real datasets with the other evidence taken away: the TCP flow,
// the target name, and the Kerberos ticket (4769 LogonGuid) each pair the halves; with nothing left to
// join on, the destination stays a half-session with its reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SKIP_NO_SHARED, sharedPath } from '../support/shared.js';
import { hunt, loadEvents, sessionsOf } from './support.js';
import type { NormalizedEvent } from '../../schemas/event.js';

const FLOW = (e: NormalizedEvent) => e.winlog.event_id === 5156 || (e.winlog.event_id === 3 && e.winlog.channel.includes('Sysmon'));
const on = (host: string) => (e: NormalizedEvent) => e.host.hostname === host;

async function set(name: string): Promise<NormalizedEvent[]> {
  return loadEvents(sharedPath('datasets', name));
}

const brief = (evs: NormalizedEvent[]) =>
  sessionsOf(hunt(evs, { batch: true })).map((s) => `${s.paired ? 'paired' : 'half'} ${s.source.host ?? '?'} -> ${s.destination.host ?? '?'}`);

test('target name alone: sd2 without any connection record pairs on WinRM 6 DC01.mssentinel.local', { skip: SKIP_NO_SHARED }, async () => {
  const evs = (await set('sd2_190518_psremoting')).filter((e) => !FLOW(e));
  assert.deepEqual(brief(evs), ['paired workstation6.mssentinel.local -> dc01.mssentinel.local']);
});

test('flow alone: sd2 without the WinRM client log pairs on the 4-tuples (5156 both ends)', { skip: SKIP_NO_SHARED }, async () => {
  const evs = (await set('sd2_190518_psremoting')).filter((e) => !(on('workstation6')(e) && e.winlog.channel.includes('WinRM')));
  const ss = sessionsOf(hunt(evs, { batch: true }));
  assert.equal(ss.length, 1);
  assert.equal(ss[0].paired, true);
  assert.equal(ss[0].source.host, 'workstation6.mssentinel.local');
  assert.equal(ss[0].confidence, 0.95);
});

test('flow alone, reversed older Sysmon: empire IT001 Sysmon 3 only on the destination', { skip: SKIP_NO_SHARED }, async () => {
  // Destination keeps only Sysmon 3 (source and destination swapped); source keeps only its 5156.
  const evs = (await set('empire_invoke_psremoting_2019')).filter((e) =>
    !(on('it001')(e) && e.winlog.event_id === 5156) && !(on('hr001')(e) && e.winlog.event_id === 3));
  const s = sessionsOf(hunt(evs, { batch: true }));
  assert.deepEqual(s.map((x) => [x.paired, x.source.host, x.destination.host, x.confidence]), [[true, 'hr001.shire.com', 'it001.shire.com', 0.95]]);
});

test('Kerberos alone: empire without connection records pairs on the DC 4769 LogonGuid = IT001 4624 LogonGuid', { skip: SKIP_NO_SHARED }, async () => {
  const evs = (await set('empire_invoke_psremoting_2019')).filter((e) => !FLOW(e));
  const ss = sessionsOf(hunt(evs, { batch: true }));
  assert.deepEqual(ss.map((x) => [x.paired, x.source.host, x.destination.host]), [[true, 'hr001.shire.com', 'it001.shire.com']]);
  // Without the DC's 4769, nothing joins the weak source half (a runspace pool) to IT001.
  const noDc = evs.filter((e) => !on('hfdc01')(e));
  const half = sessionsOf(hunt(noDc, { batch: true }));
  assert.equal(half.length, 1);
  assert.equal(half[0].paired, false);
  assert.equal(half[0].destination.host, 'it001.shire.com');
  assert.match(half[0].unpaired_reason ?? '', /no source half-session matched/);
});

test('covenant: 4648 HTTP/WORKSTATION6 and its ticket pair without any connection record', { skip: SKIP_NO_SHARED }, async () => {
  const evs = (await set('covenant_psremoting_command')).filter((e) => !FLOW(e));
  assert.deepEqual(brief(evs), ['paired workstation5.theshire.local -> workstation6.theshire.local']);
});

test('source logs alone: a source half-session naming its target, with the reason', { skip: SKIP_NO_SHARED }, async () => {
  const evs = (await set('covenant_psremoting_command')).filter(on('workstation5'));
  const ss = sessionsOf(hunt(evs, { batch: true }));
  assert.equal(ss.length, 1);
  assert.equal(ss[0].paired, false);
  assert.equal(ss[0].source.host, 'workstation5.theshire.local');
  assert.equal(ss[0].destination.host, 'workstation6');
  assert.match(ss[0].unpaired_reason ?? '', /no destination half-session matched on workstation6/);
  assert.ok(ss[0].commands.some((c) => c.text.includes('Invoke-Command -ComputerName WORKSTATION6')));
});
