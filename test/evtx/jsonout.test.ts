// The byte-level JSON writer gives exactly the bytes of JSON.stringify of the value the object path
// renders (scalar), for every value type and for strings chosen to hit every escape and convention.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonPos, jsonRewind, jsonTake, num, str, value } from '../../ingest/evtx/jsonout.js';
import { scalar } from '../../ingest/evtx/values.js';

function written(write: () => void): string {
  jsonTake();
  write();
  return jsonTake().toString('utf8');
}

function same(vt: number, b: Buffer, what: string): void {
  let want: string;
  try {
    want = JSON.stringify(scalar(b, vt, 0, b.length));
  } catch (e) {
    assert.throws(() => written(() => value(b, vt, 0, b.length)), (e as Error).constructor as new () => Error, what);
    return;
  }
  assert.equal(written(() => value(b, vt, 0, b.length)), want, what);
}

const utf16 = (s: string) => Buffer.from(s, 'utf16le');
const units = (...u: number[]) => {
  const b = Buffer.alloc(2 * u.length);
  u.forEach((c, i) => b.writeUInt16LE(c, 2 * i));
  return b;
};

test('strings: escapes, line ends, surrogates, non-ASCII, trailing NULs and the text conventions', () => {
  const texts = [
    '', 'plain', 'quote " backslash \\ slash /', 'tab\tnl\ncr\rcrlf\r\nend\r', '\r\n\r\n\r', 'bell\u0007 nul\u0000 us\u001f del\u007f',
    '\b\f', 'é ü ß € 中文 \u2028\u2029', 'emoji 😀 pair', 'trailing NULs\0\0', '\0\0',
    '{6b29fc40-ca47-1067-b31d-00dd010662da}', '{6B29FC40-CA47-1067-B31D-00DD010662DA}', '{not a guid at all, but 38 chars long}',
    '2020-09-19 03:19:31.563', '2020-09-19T03:19:31.5Z', '2020-09-19T03:19:31Z', '2020-09-19T03:19:31', '2020-09-19 03:19:31.563\r\n',
    '0x00000000000000ff', '0x0', '0x0000', '0x0zz\r\n', '0xFF', '0x', 'x'.repeat(300) + '\r\n' + 'é'.repeat(50),
  ];
  for (const t of texts) same(0x01, utf16(t), JSON.stringify(t));
  // Lone and reversed surrogates, a pair split by the end, odd byte counts.
  same(0x01, units(0xd800), 'lone high');
  same(0x01, units(0xdc00, 0x41), 'lone low');
  same(0x01, units(0xdbff, 0xdfff, 0xd800, 0xd800, 0xdc00), 'pairs and a lone high');
  same(0x01, units(0xdc00, 0xd800), 'reversed');
  same(0x01, Buffer.concat([utf16('abc'), Buffer.from([0x41])]), 'odd size');
});

test('random UTF-16 text gives JSON.stringify bytes', () => {
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const special = [0, 9, 10, 13, 0x1f, 0x22, 0x5c, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xffff, 0x2d, 0x54, 0x20, 0x30, 0x78, 0x7b];
  for (let i = 0; i < 3000; i++) {
    const n = rnd(45);
    const u: number[] = [];
    for (let k = 0; k < n; k++) u.push(rnd(3) === 0 ? special[rnd(special.length)] : rnd(4) === 0 ? rnd(0x10000) : 0x20 + rnd(0x5f));
    same(0x01, units(...u), `case ${i}: ${u.join(',')}`);
  }
});

test('ANSI, integers, GUIDs, SIDs, binary, times, hex and other types', () => {
  same(0x02, Buffer.from([0x41, 0x22, 0x5c, 0x0a, 0x01, 0x7f, 0x80, 0xe9, 0xff, 0, 0]), 'ansi');
  const b8 = Buffer.from([0xfe, 0xff, 0xff, 0xff, 0x12, 0x34, 0x56, 0x80]);
  for (let vt = 0x03; vt <= 0x15; vt++) {
    for (const size of [0, 1, 2, 4, 8]) same(vt, b8.subarray(0, size), `type 0x${vt.toString(16)} size ${size}`);
  }
  const b16 = Buffer.from([0x40, 0xfc, 0x29, 0x6b, 0x47, 0xca, 0x67, 0x10, 0xb3, 0x1d, 0x00, 0xdd, 0x01, 0x06, 0x62, 0xda]);
  for (const vt of [0x0e, 0x0f, 0x12, 0x20, 0x7e]) same(vt, b16, `type 0x${vt.toString(16)}`);
  same(0x0f, b16.subarray(0, 15), 'short GUID');
  const sid = Buffer.from([1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 0xe9, 3, 0, 0]);
  same(0x13, sid, 'SID');
  same(0x13, sid.subarray(0, 20), 'truncated SID');
  // FILETIMEs: an ordinary one, zero, one past 2^29 in the high word.
  for (const ticks of [132450000000000000n, 0n, 1n, 0x20000000n << 32n, 9999999n]) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(ticks);
    same(0x11, b, `filetime ${ticks}`);
  }
});

test('a time written again is copied from where it was written only while that is still there', () => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(132450000012345678n);
  const t = () => value(b, 0x11, 0, 8);
  const want = JSON.stringify(scalar(b, 0x11, 0, 8));
  const filler = 'x'.repeat(40);
  assert.equal(written(() => (t(), t())), want + want);
  // Dropped (a record that failed half-way) and written over, then the same time again.
  assert.equal(written(() => {
    const p = jsonPos();
    t();
    jsonRewind(p);
    str(filler);
    t();
  }), JSON.stringify(filler) + want);
  // Taken (a chunk's lines handed on), then written over.
  jsonTake();
  t();
  jsonTake();
  assert.equal(written(() => (str(filler), t())), JSON.stringify(filler) + want);
});

test('numbers as JSON writes them', () => {
  for (const n of [0, -0, 1, 9, 10, 2147483647, 2147483648, 4294967295, 2 ** 53 - 1, 2 ** 53, 1e21, -5, -2147483649, 1.5, -0.25]) {
    assert.equal(written(() => num(n)), JSON.stringify(n), String(n));
  }
  assert.equal(written(() => str('a\u0000"é😀\udc00')), JSON.stringify('a\u0000"é😀\udc00'));
  // Every digit count on both sides of each power of ten (small integers are written by their count).
  for (let p = 1; p <= 1e12; p *= 10) {
    for (const n of [p - 1, p, p + 1, -p, 2 * p - 1]) assert.equal(written(() => num(n)), JSON.stringify(n), String(n));
  }
});
