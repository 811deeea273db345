// The classic PowerShell context line scanner against the regex it replaced, and trimEnd against /\s+$/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classicLine } from '../../ingest/normalize/powershell.js';
import { rng } from '../support/rng.js';

function ref(line: string): [string, string] | undefined {
  const m = /^\s*([A-Za-z]+)=(.*)$/.exec(line);
  return m ? [m[1], m[2]] : undefined;
}

test('classic context lines: read as the regex read them', () => {
  for (const l of ['', '=', 'a=', '\tHostName=ServerRemoteHost', '  Host Name=x', 'A1=b', '_a=b', 'a==b', ' \u00a0\u2003Key=v', 'K=v\r', 'K=v\u2028w', 'K=a\tb ',
    'Ã=x', '[=x', 'Z=', 'z=1=2', '\u2029K=v']) assert.deepEqual(classicLine(l), ref(l), JSON.stringify(l));
  const parts = ['\t', ' ', '\u00a0', '\r', '\u2028', 'a', 'Z', '=', 'x y', '1', '@', '[', '`', '{', 'é', '\u0141'];
  for (let seed = 1; seed <= 5000; seed++) {
    const r = rng(seed);
    let s = '';
    const n = Math.floor(r() * 12);
    for (let i = 0; i < n; i++) s += parts[Math.floor(r() * parts.length)];
    assert.deepEqual(classicLine(s), ref(s), JSON.stringify(s));
    assert.equal(s.trimEnd(), s.replace(/\s+$/, ''));
  }
});
