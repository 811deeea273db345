// Evidence text that names what every JavaScript object has (constructor, toString, __proto__): a lookup
// table keyed by it found Object's own members. A process named `constructor` became a remoting session of
// no kind, and the findings then ended hunt with an internal error. Found by the pipeline fuzz.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/shared.js';
import { adapt } from '../../ingest/json/detect.js';
import { Normalizer } from '../../ingest/normalize/index.js';
import { canonicalChannel } from '../../ingest/normalize/extract.js';
import { canonicalAuth } from '../../detectors/pairing.js';
import { FindingsCollector } from '../../detectors/findings/index.js';
import type { NormalizedEvent } from '../../schemas/event.js';
import { hunt, sessionsOf } from './support.js';

function sysmon1(n: number, image: string, parentImage: string, pid: string, ppid: string): NormalizedEvent {
  const a = adapt({
    '@timestamp': `2024-03-01T10:00:0${n}.000Z`, log_name: 'Microsoft-Windows-Sysmon/Operational', source_name: 'Microsoft-Windows-Sysmon', event_id: 1,
    computer_name: 'ws1.corp.local', record_number: String(n),
    event_data: { UtcTime: `2024-03-01 10:00:0${n}.000`, ProcessGuid: `{1111111${n}-2222-3333-4444-555555555555}`, ProcessId: pid, Image: image, CommandLine: `${image} -x`, User: 'CORP\\bob', LogonId: '0x1234', ParentProcessId: ppid, ParentImage: parentImage },
  }, undefined);
  assert.ok('record' in a);
  const r = new Normalizer().normalize(a.record, { format: 'winlogbeat6', file: 'x.json', line: n });
  assert.ok(r.ok);
  return r.event;
}

test('a process named constructor, toString or __proto__ is not a remoting service host, and hunt goes on', () => {
  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    const events = [sysmon1(1, `C:\\Temp\\${name}`, 'C:\\Windows\\explorer.exe', '4242', '100'), sysmon1(2, 'C:\\Windows\\System32\\whoami.exe', `C:\\Temp\\${name}`, '4243', '4242')];
    const out = hunt(events);
    assert.deepEqual(sessionsOf(out), [], name);
    const findings = new FindingsCollector();
    for (const e of events) findings.push(e);
    assert.doesNotThrow(() => findings.finish({ sessions: sessionsOf(out) }), name);
  }
});

test('a channel or an authentication mechanism named constructor is itself, not a function', () => {
  assert.equal(canonicalChannel('constructor'), 'constructor');
  assert.equal(canonicalChannel('__proto__'), '__proto__');
  assert.equal(canonicalChannel('security'), 'Security');
  assert.equal(canonicalAuth('constructor'), undefined);
  assert.equal(canonicalAuth('toString'), undefined);
  assert.equal(canonicalAuth('Kerberos'), 'Kerberos');
});

test('hoptrail constructor is an unknown command (usage, exit 2), not an internal error', () => {
  for (const cmd of ['constructor', 'toString', '__proto__']) {
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'hoptrail.js'), cmd], { encoding: 'utf8' });
    assert.equal(r.status, 2, cmd);
    assert.match(r.stderr, new RegExp(`^hoptrail: unknown command '${cmd}'`), cmd);
  }
});
