// Times written and read without Date (ingest/normalize/values.ts): the same as Date (or the schema) gives, everywhere.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { isIsoMillis, isoMillis, wallToMillis } from '../../ingest/normalize/values.js';
import { rng } from '../support/rng.js';

const viaDate = (ms: number): string => {
  try { return new Date(ms).toISOString(); } catch (e) { return `throws ${(e as Error).name}`; }
};
const mine = (ms: number): string => {
  try { return isoMillis(ms); } catch (e) { return `throws ${(e as Error).name}`; }
};

test('isoMillis: toISOString, in years 0000-9999 and around them', () => {
  const edges = [0, -0, -1, 1, 0.5, -0.5, NaN, Infinity, -62_167_219_200_000, -62_167_219_200_001, 253_402_300_799_999, 253_402_300_800_000,
    951_782_400_000, 951_868_799_999, 4_107_542_400_000, -2_203_891_200_000, 8.64e15, -8.64e15, 8.64e15 + 1];
  for (const ms of edges) assert.equal(mine(ms), viaDate(ms), String(ms));
  const r = rng(11);
  for (let i = 0; i < 200_000; i++) {
    const ms = Math.floor(r() * 320_000_000_000_000) - 64_000_000_000_000;
    assert.equal(mine(ms), viaDate(ms), String(ms));
  }
});

test('wallToMillis: Date.UTC of the digits, overflowing fields and two-digit years included', () => {
  const r = rng(12);
  const d = (n: number, w: number): string => String(n).padStart(w, '0');
  for (let i = 0; i < 200_000; i++) {
    const y = r() < 0.1 ? Math.floor(r() * 200) : Math.floor(r() * 10_000), mo = Math.floor(r() * 100), day = Math.floor(r() * 100);
    const h = Math.floor(r() * 100), mi = Math.floor(r() * 100), s = Math.floor(r() * 100), f = Math.floor(r() * 1000);
    const frac = r() < 0.2 ? '' : r() < 0.5 ? `.${d(f, 3)}` : `.${d(f, 3)}${Math.floor(r() * 10000)}`;
    const t = `${d(y, 4)}-${d(mo, 2)}-${d(day, 2)}${r() < 0.5 ? 'T' : ' '}${d(h, 2)}:${d(mi, 2)}:${d(s, 2)}${frac}${r() < 0.5 ? 'Z' : ''}`;
    const ms = frac === '' ? 0 : Number(frac.slice(1, 4).padEnd(3, '0'));
    assert.equal(wallToMillis(t), Date.UTC(y, mo - 1, day, h, mi, s, ms), t);
  }
  assert.equal(wallToMillis('2022-09-26 23:26:06.428'), Date.parse('2022-09-26T23:26:06.428Z'));
  assert.ok(Number.isNaN(wallToMillis('2022-09-26')));
});

test('isIsoMillis: exactly what the schema takes for @timestamp (real dates only, no 30 February)', () => {
  const schema = z.iso.datetime({ offset: false, precision: 3 });
  const edges = ['2019-02-28T23:59:59.999Z', '2019-02-29T00:00:00.000Z', '2020-02-29T00:00:00.000Z', '1900-02-29T00:00:00.000Z', '2000-02-29T00:00:00.000Z',
    '2019-04-31T00:00:00.000Z', '2019-12-31T24:00:00.000Z', '2019-12-31T23:60:00.000Z', '2019-12-31T23:59:60.000Z', '0000-01-01T00:00:00.000Z',
    '9999-12-31T23:59:59.999Z', '2019-00-10T00:00:00.000Z', '2019-10-00T00:00:00.000Z', '2019-10-10T00:00:00.00Z', '2019-10-10 00:00:00.000Z',
    '2019-10-10T00:00:00.000+00:00', '+02019-10-10T00:00:00.000Z', '2019-1a-10T00:00:00.000Z'];
  for (const t of edges) assert.equal(isIsoMillis(t), schema.safeParse(t).success, t);
  const r = rng(13);
  const d = (n: number, w: number): string => String(n).padStart(w, '0');
  for (let i = 0; i < 100_000; i++) {
    const t = `${d(Math.floor(r() * 10_000), 4)}-${d(Math.floor(r() * 14), 2)}-${d(Math.floor(r() * 33), 2)}T${d(Math.floor(r() * 26), 2)}:${d(Math.floor(r() * 62), 2)}:${d(Math.floor(r() * 62), 2)}.${d(Math.floor(r() * 1000), 3)}Z`;
    assert.equal(isIsoMillis(t), schema.safeParse(t).success, t);
  }
});
