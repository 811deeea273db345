// `hoptrail dump` as a user runs it: output lines, formats, threads, filters, exit codes, error lines.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { member, writeTar, writeZip } from '../support/archives.js';
import { referenceRecords } from '../support/corpus.js';
import { REPO_ROOT, SKIP_NO_SHARED, sharedPath } from '../support/shared.js';

const BIN = join(REPO_ROOT, 'bin', 'hoptrail.js');

function hoptrail(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, lines: r.stdout.split('\n').filter((l) => l !== '') };
}

test('dump prints one JSON line per record, equal to the reference dump', { skip: SKIP_NO_SHARED }, () => {
  const file = 'P2_ID800_-_SPN_discovery_PowerShell.evtx';
  const r = hoptrail('dump', sharedPath('corpus', file));
  assert.equal(r.status, 0);
  const ref = referenceRecords(file);
  assert.equal(r.lines.length, ref.length);
  assert.deepEqual(r.lines.map((l) => JSON.parse(l)), ref);
});

test('dump --threads 2 prints the same lines as one thread, over several files and a directory', { skip: SKIP_NO_SHARED }, () => {
  const inputs = [sharedPath('corpus', 'robustness', 'sample_with_a_bad_chunk_magic.evtx'), sharedPath('corpus', 'robustness')];
  const one = hoptrail('dump', ...inputs);
  const two = hoptrail('dump', '--threads', '2', ...inputs);
  assert.equal(one.status, 0);
  assert.equal(two.status, 0);
  assert.ok(one.lines.length > 10000);
  assert.equal(two.stdout, one.stdout);
});

test('dump --format xml renders each record as an Event document', { skip: SKIP_NO_SHARED }, () => {
  const r = hoptrail('dump', '--format', 'xml', '--no-recover', sharedPath('corpus', 'R1_RemotePowerShell_MS_Windows-Remote_Management_EventID_169.evtx'));
  assert.equal(r.status, 0);
  const docs = r.stdout.split(/(?=<Event )/).filter((d) => d.trim() !== '');
  assert.equal(docs.length, 6);
  // With recovery on, the 4 records left in slack space come too, each marked as recovered.
  const all = hoptrail('dump', '--format', 'xml', sharedPath('corpus', 'R1_RemotePowerShell_MS_Windows-Remote_Management_EventID_169.evtx'));
  assert.equal(all.stdout.split(/(?=<Event )/).filter((d) => d.trim() !== '').length, 10);
  assert.equal(all.stdout.split('<!-- recovered from chunk slack space -->').length - 1, 4);
  assert.match(docs[0], /<EventID>169<\/EventID>/);
  assert.match(docs[0], /<Data Name="authenticationMechanism">NTLM<\/Data>/);
  assert.match(docs[0], /<TimeCreated SystemTime="2019-05-20T15:54:31.7069105Z"\/>/);
});

test('dump --event-id keeps only those events', { skip: SKIP_NO_SHARED }, () => {
  const r = hoptrail('dump', '--event-id', '1102,4624', sharedPath('corpus', 'L5_metasploit-psexec-powershell-target-security.evtx'));
  assert.equal(r.status, 0);
  const ids = r.lines.map((l) => JSON.parse(l).event_id as number);
  assert.deepEqual(ids, [1102]);
});

test('damaged records are reported on stderr as JSON lines and the exit status stays 0', { skip: SKIP_NO_SHARED }, () => {
  const r = hoptrail('dump', sharedPath('corpus', 'robustness', 'sample-with-zero-data-size-event.evtx'));
  assert.equal(r.status, 0);
  assert.ok(r.lines.length >= 335);
  const errors = r.stderr.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
  const zero = errors.find((e) => /record size 0 /.test(e.message));
  assert.ok(zero, 'the zero-size record is reported');
  assert.equal(zero.level, 'error');
  assert.match(zero.file, /sample-with-zero-data-size-event\.evtx$/);
  assert.equal(typeof zero.offset, 'number');
});

test('an unreadable or non-EVTX input exits 1, after dumping the readable ones', { skip: SKIP_NO_SHARED }, () => {
  const r = hoptrail('dump', join(REPO_ROOT, 'package.json'), '/nonexistent/x.evtx', sharedPath('corpus', 'R2_LM_winrm_target_wrmlogs_91_wsmanShellStarted_poorLog.evtx'));
  assert.equal(r.status, 1);
  assert.equal(r.lines.length, 1);
  const errors = r.stderr.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
  assert.ok(errors.some((e) => e.level === 'fatal' && /package\.json$/.test(e.file) && /not an EVTX file/.test(e.message)));
  assert.ok(errors.some((e) => e.level === 'fatal' && e.file === '/nonexistent/x.evtx'));
});

test('dump - reads an EVTX stream from standard input', { skip: SKIP_NO_SHARED }, () => {
  const bytes = readFileSync(sharedPath('corpus', 'P2_ID800_-_SPN_discovery_PowerShell.evtx'));
  const r = spawnSync(process.execPath, [BIN, 'dump', '--no-recover', '-'], { input: bytes, encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.deepEqual(r.stdout.trim().split('\n').map((l) => JSON.parse(l)), referenceRecords('P2_ID800_-_SPN_discovery_PowerShell.evtx'));
});

test('usage errors exit 2', () => {
  assert.equal(hoptrail('dump').status, 2);
  assert.equal(hoptrail('dump', '--bogus', 'x').status, 2);
  assert.equal(hoptrail('dump', '--format', 'csv', 'x').status, 2);
  assert.equal(hoptrail('dump', '--threads', 'many', 'x').status, 2);
  assert.equal(hoptrail('frobnicate').status, 2);
});

test('dump of an archive named on the command line prints its EVTX members as the files would be printed', { skip: SKIP_NO_SHARED }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoptrail-dump-archive-'));
  try {
    const files = ['R1_RemotePowerShell_MS_Windows-Remote_Management_EventID_169.evtx', 'robustness/sample_with_a_bad_chunk_magic.evtx'].map((f) => sharedPath('corpus', f));
    const members = [member('Logs/a.evtx', files[0]), { name: 'Logs/notes.txt', data: Buffer.from('not a log') }, member('Logs/b.EVTX', files[1])];
    const zip = join(dir, 'logs.zip');
    writeZip(zip, members);
    const tgz = join(dir, 'logs.tgz');
    writeTar(tgz, members);
    const want = files.map((f) => hoptrail('dump', f));
    for (const archive of [zip, tgz]) {
      const r = hoptrail('dump', '--threads', '2', archive);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, want.map((w) => w.stdout).join(''));
      // Error lines name archive!member, with the chunks and offsets of the file.
      assert.equal(r.stderr, want[1].stderr.replaceAll(files[1], `${archive}!Logs/b.EVTX`));
    }
    // Cut inside its second member: what came before, then a fatal line naming it, and exit 1.
    const bytes = readFileSync(tgz);
    writeFileSync(tgz, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const cut = hoptrail('dump', tgz);
    assert.equal(cut.status, 1);
    assert.ok(cut.stdout.startsWith(want[0].stdout) && cut.lines.length > want[0].lines.length);
    const last = JSON.parse(cut.stderr.trim().split('\n').at(-1)!) as { level: string; file: string; message: string };
    assert.equal(last.level, 'fatal');
    assert.equal(last.file, `${tgz}!Logs/b.EVTX`);
    assert.match(last.message, /^read failed: archive cannot be read past byte \d+ of this member/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
