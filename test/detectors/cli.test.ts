// `hoptrail hunt` end to end on the datasets: the four output files and the exit code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SKIP_NO_SHARED, sharedPath } from '../support/shared.js';
import { run } from '../../cli/hunt.js';

test('hunt writes events, sessions, hops and a neutralized timeline', { skip: SKIP_NO_SHARED }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoptrail-hunt-'));
  try {
    const write = process.stdout.write.bind(process.stdout);
    let said = '';
    process.stdout.write = ((s: string) => { said += s; return true; }) as typeof process.stdout.write;
    let code: number;
    try { code = await run([sharedPath('datasets'), '--out', dir]); } finally { process.stdout.write = write; }
    assert.equal(code, 0);
    assert.match(said, /3 session\(s\): 3 paired, 0 half; 3 hop\(s\)/);
    const lines = (f: string) => readFileSync(join(dir, f), 'utf8').trim().split('\n');
    assert.equal(lines('events.ndjson').length, 10957);
    assert.equal(readFileSync(join(dir, 'rejects.ndjson'), 'utf8'), '', 'every dataset event normalizes');
    const sessions = lines('sessions.ndjson').map((l) => JSON.parse(l) as { session_id: string; evidence: unknown[] });
    assert.equal(sessions.length, 3);
    const hops = lines('hops.ndjson').map((l) => JSON.parse(l) as { type: string });
    assert.deepEqual(hops.map((h) => h.type), ['hop', 'hop', 'hop']);
    const csv = readFileSync(join(dir, 'timeline.csv'), 'utf8').split('\r\n').filter((l) => l);
    assert.equal(csv[0], 'time,session_id,kind,paired,side,host,channel,event_id,record_id,source_host,destination_host,user,auth,file,detail');
    assert.equal(csv.length - 1, sessions.reduce((n, s) => n + s.evidence.length, 0));
    // The stager's command line starts with a quote, conhost's with a backslash; "-ForceV1" style cells never lead.
    assert.ok(!csv.some((l) => /,[=+@-][^,]*/.test(l.split(',').slice(0, 14).join(','))));
    // Findings and the report come with every hunt; the plaintext password is masked in both.
    const findings = lines('findings.ndjson').map((l) => JSON.parse(l) as { rule: string; severity: string; finding_id: string });
    assert.equal(findings.filter((f) => f.rule.startsWith('remote-exec')).length, 3, JSON.stringify(findings.map((f) => f.rule)));
    assert.match(said, /9 finding\(s\): 2 critical, 7 high/);
    const report = readFileSync(join(dir, 'report.html'), 'utf8');
    assert.match(report, /^<!DOCTYPE html>/i);
    assert.ok(!/<script/i.test(report));
    for (const text of [readFileSync(join(dir, 'findings.ndjson'), 'utf8'), report]) assert.ok(!text.includes('W1n1!2019') && !text.includes('Fall2022'));
    // Same input, same session and finding IDs (stable across runs); --fail-on turns a finding into exit 3.
    const again = mkdtempSync(join(tmpdir(), 'hoptrail-hunt-'));
    process.stdout.write = (() => true) as typeof process.stdout.write;
    let failCode: number;
    try { failCode = await run([sharedPath('datasets'), `--out=${again}`, '--fail-on', 'critical']); } finally { process.stdout.write = write; }
    assert.equal(failCode, 3);
    const findings2 = readFileSync(join(again, 'findings.ndjson'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { finding_id: string }).finding_id);
    assert.deepEqual(findings2.sort(), findings.map((f) => f.finding_id).sort());
    const ids2 = readFileSync(join(again, 'sessions.ndjson'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { session_id: string }).session_id);
    assert.deepEqual(ids2.sort(), sessions.map((s) => s.session_id).sort());
    rmSync(again, { recursive: true, force: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hunt: usage errors exit 2', async () => {
  const err = process.stderr.write.bind(process.stderr);
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    assert.equal(await run([]), 2);
    assert.equal(await run(['x', '--bogus']), 2);
    assert.equal(await run(['x', '--skew', 'abc']), 2);
    assert.equal(await run(['x', '--fail-on', 'severe']), 2);
  } finally { process.stderr.write = err; }
});

test('hunt: a path that cannot be read is reported and exits 1; the other inputs are hunted all the same', { skip: SKIP_NO_SHARED }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoptrail-hunt-missing-'));
  const write = process.stdout.write.bind(process.stdout);
  let said = '';
  process.stdout.write = ((s: string) => { said += s; return true; }) as typeof process.stdout.write;
  let code: number;
  try {
    code = await run([join(dir, 'no-such-dir'), sharedPath('corpus', 'R1_RemotePowerShell_MS_Windows-Remote_Management_EventID_169.evtx'), '--out', join(dir, 'out')]);
  } finally { process.stdout.write = write; }
  try {
    assert.equal(code, 1);
    assert.match(said, /1 input\(s\), 10 event\(s\)/);
    assert.match(said, /unreadable: .*no-such-dir: cannot open: ENOENT/);
    assert.equal(readFileSync(join(dir, 'out', 'events.ndjson'), 'utf8').split('\n').filter(Boolean).length, 10);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hunt: damage read past is a warning in the summary and in warnings.ndjson, on one thread and on several', { skip: SKIP_NO_SHARED }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoptrail-hunt-warn-'));
  // Outputs outside the input directory: a run's outputs would be the next run's inputs.
  const outs = mkdtempSync(join(tmpdir(), 'hoptrail-hunt-warn-out-'));
  try {
    // A header cut after its signature (no chunk at all), and a real log cut inside its second chunk
    // (its header is marked dirty: the log was copied while open).
    writeFileSync(join(dir, 'cut-header.evtx'), 'ElfFile\0');
    writeFileSync(join(dir, 'cut.evtx'), readFileSync(sharedPath('corpus', 'large', 'StolenSzechuan_DC_System.evtx')).subarray(0, 70_000));
    for (const threads of ['1', '3']) {
      const write = process.stdout.write.bind(process.stdout);
      let said = '';
      process.stdout.write = ((s: string) => { said += s; return true; }) as typeof process.stdout.write;
      try { await run([dir, '--out', join(outs, `out${threads}`), '--threads', threads]); } finally { process.stdout.write = write; }
      assert.match(said, /3 warning\(s\)/, said);
      const warnings = readFileSync(join(outs, `out${threads}`, 'warnings.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { source: string; message: string });
      assert.deepEqual(warnings.map((w) => `${w.source.slice(dir.length + 1)}: ${w.message.replace(/;.*/, '')}`), [
        'cut-header.evtx: file header, offset 0: file header is truncated (8 bytes)',
        'cut-header.evtx: file header, offset 0: file holds no chunks',
        'cut.evtx: file header, offset 120: file is marked dirty (not closed cleanly)',
      ]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(outs, { recursive: true, force: true });
  }
});
