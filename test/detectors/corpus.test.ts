// Real single-host EVTX samples: R (remoting) files give destination half-sessions with the user and,
// where it was logged, the authentication; N (negative) and the other non-remoting files give none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { SKIP_NO_SHARED, HAVE_SHARED, sharedPath } from '../support/shared.js';
import { hunt, loadEvents, sessionsOf } from './support.js';

const corpus = (prefix: string): string[] =>
  HAVE_SHARED ? readdirSync(sharedPath('corpus')).filter((f) => f.startsWith(prefix) && f.endsWith('.evtx')).sort() : [];

async function one(file: string) {
  return sessionsOf(hunt(await loadEvents(sharedPath('corpus', file)), { batch: true }));
}

test('R1: WinRM 169 -> half-session on iewin7, user iewin7\\ieuser, NTLM', { skip: SKIP_NO_SHARED }, async () => {
  const ss = await one('R1_RemotePowerShell_MS_Windows-Remote_Management_EventID_169.evtx');
  assert.equal(ss.length, 1);
  const s = ss[0];
  assert.equal(s.paired, false);
  assert.equal(s.destination.host, 'iewin7');
  assert.deepEqual(s.user, { name: 'ieuser', domain: 'iewin7' });
  assert.equal(s.auth, 'NTLM');
  assert.match(s.unpaired_reason ?? '', /no source half-session/);
  assert.equal(s.evidence.filter((e) => e.event_id === 169).length, 3);
});

test('R2: WinRM 91 cmd shell -> winrs half-session, user by SID', { skip: SKIP_NO_SHARED }, async () => {
  const ss = await one('R2_LM_winrm_target_wrmlogs_91_wsmanShellStarted_poorLog.evtx');
  assert.equal(ss.length, 1);
  assert.equal(ss[0].kind, 'winrs');
  assert.equal(ss[0].destination.host, 'dc1.insecurebank.local');
  assert.equal(ss[0].user.id, 'S-1-5-21-738609754-2819869699-4189121830-500');
  assert.equal(ss[0].evidence[0].record_id, 508);
});

test('R3: a child of wsmprovhost -> psremoting half-session, user Administrator, command', { skip: SKIP_NO_SHARED }, async () => {
  const ss = await one('R3_LM_PowershellRemoting_sysmon_1_wsmprovhost.evtx');
  assert.equal(ss.length, 1);
  assert.equal(ss[0].kind, 'psremoting');
  assert.deepEqual(ss[0].user, { name: 'Administrator', domain: 'insecurebank' });
  assert.deepEqual(ss[0].commands.map((c) => c.text), ['"C:\\Windows\\system32\\HOSTNAME.EXE"']);
});

for (const prefix of ['N', 'L', 'P', 'F', 'X']) {
  test(`${prefix} files: no session`, { skip: SKIP_NO_SHARED }, async () => {
    const files = corpus(prefix);
    assert.ok(files.length >= 1);
    for (const f of files) assert.deepEqual((await one(f)).map((s) => `${s.destination.host} ${s.kind}`), [], f);
  });
}
