// Fuzz: mutated corpus files (bit flips, truncation, zeroed and random ranges, inflated sizes and offsets)
// never crash the parser, never hang (a deadline per case), and keep memory bounded.
// HOPTRAIL_FUZZ_CASES sets the number of cases (default 400), HOPTRAIL_FUZZ_SEED the seed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { SKIP_NO_SHARED, sharedPath } from '../support/shared.js';

const CASES = Number(process.env.HOPTRAIL_FUZZ_CASES ?? 400);
const SEED = Number(process.env.HOPTRAIL_FUZZ_SEED ?? 20261124);
const DEADLINE_MS = 10_000;
const HEAP_LIMIT = 400 * 1024 * 1024;

test(`${CASES} mutated EVTX files: no crash, no hang, bounded memory`, { skip: SKIP_NO_SHARED, timeout: 20 * 60_000 }, async (t) => {
  const files = [
    'corpus/X1_ID1149-RDP_success_logins_to_multiple_hosts.evtx',
    'corpus/X2_ID800-4103-Firewall_disabled.evtx',
    'corpus/P2_ID800_-_SPN_discovery_PowerShell.evtx',
    'corpus/R1_RemotePowerShell_MS_Windows-Remote_Management_EventID_169.evtx',
    'corpus/robustness/E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx',
    'corpus/robustness/MSExchange_Management_wec.evtx',
    'corpus/L8_ID4688_5140_5145-WMIexec_execution_via_SMB_GLOBAL.evtx',
  ].map((f) => sharedPath(f));
  const worker = new Worker(new URL('./fuzz-worker.js', import.meta.url), { workerData: { files, cases: CASES, seed: SEED } });
  let current: { i: number; seed: number; file: string; what: string } | null = null;
  let timer: NodeJS.Timeout | undefined;
  let records = 0;
  let errors = 0;
  let maxHeap = 0;
  const result = await new Promise<string>((resolve) => {
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        void worker.terminate();
        resolve(`case ${current?.i} hung for ${DEADLINE_MS} ms: ${JSON.stringify(current)}`);
      }, DEADLINE_MS);
    };
    worker.on('message', (m) => {
      if (m.type === 'start') {
        current = m;
        arm();
      } else if (m.type === 'done') {
        records += m.records;
        errors += m.errors;
        maxHeap = Math.max(maxHeap, m.heap);
        if (m.heap > HEAP_LIMIT) {
          void worker.terminate();
          resolve(`case ${m.i} grew the heap to ${m.heap} bytes: ${JSON.stringify(current)}`);
        }
      } else if (m.type === 'crash') {
        resolve(`case ${m.i} threw out of the iterator (${m.file}, seed ${m.seed}, ${m.what}): ${m.error}`);
      } else if (m.type === 'finished') {
        resolve('ok');
      }
    });
    worker.on('error', (e) => resolve(`worker failed: ${e.stack}`));
    worker.on('exit', () => resolve(`worker exited during ${JSON.stringify(current)}`));
  });
  clearTimeout(timer);
  await worker.terminate();
  t.diagnostic(`fuzz: ${CASES} cases, ${records} records and ${errors} error items, peak heap ${(maxHeap / 1048576).toFixed(0)} MB`);
  assert.equal(result, 'ok');
});
