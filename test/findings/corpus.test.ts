// Findings on the real EVTX corpus (../shared/corpus): the N (no remoting) files give none at all; the R
// files give remote-execution half-sessions and NTLM posture from WinRM 169; real negatives for the
// failure-burst, log-clearing and firewall rules. Where a rule needs a WinRM host or a session the corpus
// file lacks, the test adds one built by test/support/events.ts and says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { findingsFor } from '../../detectors/findings/index.js';
import type { SessionLike } from '../../detectors/findings/session-shape.js';
import { HAVE_SHARED, SKIP_NO_SHARED, sharedPath } from '../support/shared.js';
import { buildEvent, WINRM_OP, WINRM_PROVIDER } from '../support/events.js';
import { huntFiles } from './support.js';

const corpus = (prefix: string): string[] => (HAVE_SHARED ? readdirSync(sharedPath('corpus')).filter((f) => f.startsWith(prefix) && f.endsWith('.evtx')).sort().map((f) => sharedPath('corpus', f)) : []);

test('the N files give no finding at all (so no lateral-movement finding)', { skip: SKIP_NO_SHARED }, async () => {
  const files = corpus('N');
  assert.equal(files.length, 3);
  for (const f of files) {
    const h = await huntFiles(f);
    assert.ok(h.events.length > 0, f);
    const fs = findingsFor(h.events, h);
    assert.deepEqual(fs.map((x) => `${x.rule}: ${x.title}`), [], f);
  }
  // Widening the command scope to every command must still leave the N files without lateral movement.
  for (const f of files) {
    const h = await huntFiles(f);
    const fs = findingsFor(h.events, h, { ...(await import('../../detectors/findings/config.js')).DEFAULT_CONFIG, options: { ...(await import('../../detectors/findings/config.js')).DEFAULT_CONFIG.options, command_scope: 'any' } });
    assert.ok(!fs.some((x) => x.category === 'lateral-movement'), f);
  }
});

test('R files: remote execution on the destination half, NTLM from WinRM 169', { skip: SKIP_NO_SHARED }, async () => {
  const kinds = new Set<string>();
  let ntlm = 0;
  for (const f of corpus('R')) {
    const h = await huntFiles(f);
    const fs = findingsFor(h.events, h);
    for (const x of fs) {
      if (x.rule.startsWith('remote-exec.')) {
        kinds.add(x.rule);
        assert.equal(x.severity, x.rule === 'remote-exec.winrm' ? 'low' : 'medium', 'half-sessions rank below paired ones');
        assert.match(x.summary, /Only one end was seen/);
      }
      if (x.rule === 'posture.ntlm') {
        ntlm++;
        assert.ok(x.evidence.some((e) => e.event_id === 169));
      }
    }
  }
  assert.deepEqual([...kinds].sort(), ['remote-exec.psremoting', 'remote-exec.winrm', 'remote-exec.winrs']);
  assert.equal(ntlm, 1);
});

test('3 561 failed SMB logons (L3) are no WinRM burst; the same on a WinRM host are (host marker synthetic)', { skip: SKIP_NO_SHARED }, async () => {
  const [l3] = corpus('L3');
  const h = await huntFiles(l3);
  assert.deepEqual(findingsFor(h.events, h).filter((x) => x.rule === 'auth.winrm-failures'), []);
  // Synthetic: a WinRM 91 (shell created) on the same host makes it a WinRM host.
  const host = h.events[0].host.name;
  const marker = buildEvent({ host, channel: WINRM_OP, provider: WINRM_PROVIDER, id: 91, time: h.events[0]['@timestamp'], extra: { winrm: { operation: 'server_create_shell' } } });
  const fs = findingsFor([...h.events, marker], h).filter((x) => x.rule === 'auth.winrm-failures');
  assert.equal(fs.length, 1);
  assert.equal(fs[0].severity, 'medium');
  assert.deepEqual(fs[0].attack, ['T1110']);
  assert.ok(fs[0].evidence.length === 100 && (fs[0].evidence_dropped ?? 0) > 3000);
});

test('log clearing (real 1102/104) is reported only near a session on that host (session synthetic)', { skip: SKIP_NO_SHARED }, async () => {
  for (const prefix of ['L2', 'L4', 'L5', 'L8']) {
    const [f] = corpus(prefix);
    const h = await huntFiles(f);
    assert.deepEqual(findingsFor(h.events, h).filter((x) => x.rule === 'logs.cleared'), [], prefix);
    const clear = h.events.find((e) => e.winlog.event_id === 1102 || e.winlog.event_id === 104);
    assert.ok(clear, prefix);
    const t = Date.parse(clear['@timestamp']);
    const session: SessionLike = {
      session_id: `synthetic-${prefix}`, kind: 'psremoting', paired: true, source: { host: 'attacker.example' }, destination: { host: clear.host.name },
      user: { name: 'mallory', domain: 'EVIL' }, start: new Date(t - 600_000).toISOString(), end: new Date(t - 300_000).toISOString(), commands: [], confidence: 1, evidence: [],
    };
    const fs = findingsFor(h.events, { sessions: [...h.sessions, session] }).filter((x) => x.rule === 'logs.cleared');
    assert.equal(fs.length, 1, prefix);
    assert.equal(fs[0].severity, 'high');
    assert.deepEqual(fs[0].session_ids, [`synthetic-${prefix}`]);
    assert.equal(fs[0].evidence[0].event_id, clear.winlog.event_id);
  }
});

test('a real firewall rule (F1, 2004) that is not for WinRM raises nothing', { skip: SKIP_NO_SHARED }, async () => {
  const [f1] = corpus('F1');
  const h = await huntFiles(f1);
  assert.ok(h.events.some((e) => e.winlog.event_id === 2004));
  assert.deepEqual(findingsFor(h.events, h), []);
});
