// Shared helpers for the JSON adapters: tolerant reads of collector fields.
import { setOwn } from '../own.js';

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

export function num(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '') {
    const t = v.trim();
    const n = t.startsWith('0x') ? parseInt(t.slice(2), 16) : Number(t);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** An integer that a double holds exactly (1e308 is an integer too, and no record ID, level or PID). */
export function int(v: unknown): number | undefined {
  const n = num(v);
  return n !== undefined && Number.isSafeInteger(n) ? n : undefined;
}

/** Every value a string (collectors emit some as numbers); nested objects flattened with `.`. */
export function stringMap(v: unknown, out: Record<string, string> = {}, prefix = ''): Record<string, string> {
  if (!isObj(v)) return out;
  for (const k in v) {
    const x = v[k];
    if (x === null || x === undefined) continue;
    if (isObj(x)) stringMap(x, out, `${prefix}${k}.`);
    else if (Array.isArray(x)) setOwn(out, prefix + k, x.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join('\n'));
    else setOwn(out, prefix + k, typeof x === 'string' ? x : String(x));
  }
  return out;
}

/** A signed or unsigned 64-bit keywords number to EVTX's `0x` lower-case hex. */
export function keywordsHex(v: unknown): string | undefined {
  if (typeof v === 'string') {
    const t = v.trim();
    if (/^0x[0-9a-f]+$/i.test(t)) return t.toLowerCase();
    if (/^-?\d+$/.test(t)) return '0x' + BigInt.asUintN(64, BigInt(t)).toString(16);
    return undefined;
  }
  if (typeof v === 'number' && Number.isFinite(v)) return '0x' + BigInt.asUintN(64, BigInt(Math.trunc(v))).toString(16);
  return undefined;
}

const LEVEL_NAMES: ReadonlyMap<string, number> = new Map([['critical', 1], ['error', 2], ['warning', 3], ['information', 4], ['verbose', 5]]);

/** A level given as a number, numeric text, or a name (`Information`). */
export function level(v: unknown): number | string | undefined {
  const n = int(v);
  if (n !== undefined) return n;
  if (typeof v === 'string' && v) return LEVEL_NAMES.get(v.toLowerCase()) ?? v;
  return undefined;
}
