// Findings on the real multi-host datasets (../shared/datasets): remote PowerShell execution for each of
// the three sessions, the Covenant plaintext credential (masked), the Empire encoded stager (decoded),
// nothing for Windows Event Forwarding; the same findings whatever the input order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findingsFor, exitCodeFor, FindingsCollector, type Finding } from '../../detectors/findings/index.js';
import { SKIP_NO_SHARED, sharedPath } from '../support/shared.js';
import { huntFiles } from './support.js';

let cached: Promise<{ findings: Finding[]; json: string }> | undefined;
function run(): Promise<{ findings: Finding[]; json: string }> {
  return (cached ??= (async () => {
    const h = await huntFiles(sharedPath('datasets'));
    const findings = findingsFor(h.events, h);
    return { findings, json: JSON.stringify(findings) };
  })());
}

const of = (fs: Finding[], rule: string): Finding[] => fs.filter((f) => f.rule === rule);

test('remote PowerShell execution for each of the three sessions, source to destination', { skip: SKIP_NO_SHARED }, async () => {
  const { findings } = await run();
  const rx = of(findings, 'remote-exec.psremoting').map((f) => `${f.hops[0]?.source} -> ${f.hops[0]?.destination}`).sort();
  assert.deepEqual(rx, [
    'hr001.shire.com -> it001.shire.com',
    'workstation5.theshire.local -> workstation6.theshire.local',
    'workstation6.mssentinel.local -> dc01.mssentinel.local',
  ]);
  for (const f of of(findings, 'remote-exec.psremoting')) {
    assert.equal(f.severity, 'high');
    assert.deepEqual(f.attack, ['T1021.006', 'T1059.001']);
    assert.equal(f.category, 'lateral-movement');
    assert.equal(f.session_ids.length, 1);
    assert.ok(f.evidence.length > 5, 'evidence from both ends');
    assert.ok(f.evidence.every((e) => e.file && (e.line !== undefined || e.offset !== undefined)), 'every record located');
    assert.match(f.summary, /pgustavo/);
  }
  // The DC01 session's command is in the summary (password masked).
  const dc = of(findings, 'remote-exec.psremoting').find((f) => f.hosts.includes('dc01.mssentinel.local'));
  assert.match(dc?.summary ?? '', /net\.exe" user PSRemoting \*{8} \/add/);
});

test('Covenant: the plaintext credential of the 800 event, masked everywhere', { skip: SKIP_NO_SHARED }, async () => {
  const { findings, json } = await run();
  const cred = of(findings, 'credential.plaintext').find((f) => f.hosts.includes('workstation5.theshire.local'));
  assert.ok(cred, 'credential finding on WORKSTATION5');
  assert.equal(cred.severity, 'high');
  assert.ok(cred.attack.includes('T1552'));
  assert.match(cred.summary, /ConvertTo-SecureString "\*{8}" -AsPlainText/);
  assert.equal(cred.session_ids.length, 1, 'tied to the WORKSTATION5 -> WORKSTATION6 session');
  assert.ok(cred.evidence.some((e) => e.channel === 'Windows PowerShell' && e.event_id === 800));
  // Neither secret of the datasets appears anywhere in the findings.
  assert.ok(!json.includes('W1n1!2019'), 'Covenant password masked');
  assert.ok(!json.includes('Fall2022'), 'net user password masked');
  // The net user /add on DC01 inside the remoting session is a credential in text too.
  const net = of(findings, 'credential.plaintext').find((f) => f.hosts.includes('dc01.mssentinel.local'));
  assert.ok(net && net.attack.includes('T1136'));
});

test('Empire: the encoded stager in the remote session, decoded, with its AMSI / logging bypass and cradle', { skip: SKIP_NO_SHARED }, async () => {
  const { findings } = await run();
  const enc = of(findings, 'command.encoded').filter((f) => f.hosts.includes('it001.shire.com'));
  assert.equal(enc.length, 1);
  assert.equal(enc[0].session_ids.length, 1);
  assert.ok(enc[0].evidence.some((e) => e.event_id === 4688 && e.channel === 'Security'), '4688 wsmprovhost -> powershell -enc');
  assert.match(enc[0].decoded ?? '', /cachedGroupPolicySettings/);
  assert.match(enc[0].summary, /Decoded: .*cachedGroupPolicySettings/);
  assert.ok((enc[0].decoded ?? '').length <= 2000 + 40, 'decoded payload bounded');
  for (const rule of ['command.amsi-bypass', 'command.logging-bypass', 'command.download-cradle']) {
    assert.ok(of(findings, rule).some((f) => f.hosts.includes('it001.shire.com') && f.session_ids.length === 1), rule);
  }
  // HR001 ran the same kind of launcher locally (the initial infection): not in a remote session, not reported.
  assert.ok(!findings.some((f) => f.rule.startsWith('command.') && f.hosts.includes('hr001.shire.com')));
});

test('nothing fires for Windows Event Forwarding to the collector', { skip: SKIP_NO_SHARED }, async () => {
  const { findings, json } = await run();
  assert.ok(!json.includes('172.18.39.102'), 'the collector appears in no finding');
  assert.ok(!findings.some((f) => /svchost|NETWORK SERVICE/i.test(f.title + f.summary)));
  assert.ok(!findings.some((f) => f.rule.startsWith('posture.') || f.rule.startsWith('auth.')), 'no posture finding from WEF traffic');
  assert.equal(of(findings, 'remote-exec.psremoting').length + of(findings, 'remote-exec.winrm').length, 3);
});

test('findings and their IDs do not depend on event order; --fail-on', { skip: SKIP_NO_SHARED }, async () => {
  const { findings } = await run();
  const h = await huntFiles(sharedPath('datasets'));
  const reversed = findingsFor([...h.events].reverse(), h);
  assert.deepEqual(reversed.map((f) => f.finding_id), findings.map((f) => f.finding_id));
  assert.equal(new Set(findings.map((f) => f.finding_id)).size, findings.length, 'IDs unique');
  assert.equal(exitCodeFor(findings, 'critical'), 3);
  assert.equal(exitCodeFor(findings.filter((f) => f.severity !== 'critical'), 'critical'), 0);
});

test('the collector given only the events it wants finds exactly what it finds given all of them', { skip: SKIP_NO_SHARED }, async () => {
  // `hunt` sends only these events from its normalizing workers to the thread that collects findings.
  const h = await huntFiles(sharedPath('datasets'), sharedPath('corpus'));
  const wanted = h.events.filter((e) => FindingsCollector.wants(e));
  assert.ok(wanted.length < h.events.length / 2, 'most events are not wanted');
  const all = JSON.stringify(findingsFor(h.events, h));
  assert.ok(JSON.parse(all).length >= 10);
  assert.equal(JSON.stringify(findingsFor(wanted, h)), all);
});
