// Deterministic mutations of EVTX bytes for fuzzing: bit flips, truncation, zeroed and random ranges, and
// inflated sizes and offsets written over the fields a parser trusts.

import { rng } from './rng.js';

const BIG = [0xffffffff, 0x7fffffff, 0x80000000, 0x10000, 0xffff, 0x1000, 0x200, 0, 1];

export function mutate(src: Buffer, seed: number): { bytes: Buffer; what: string } {
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const b = Buffer.from(src);
  const kind = int(6);
  const steps = 1 + int(4);
  const what: string[] = [];
  let out = b;
  for (let s = 0; s < steps; s++) {
    switch (kind === 5 ? int(5) : kind) {
      case 0: {
        const n = 1 + int(64);
        for (let k = 0; k < n; k++) {
          const p = int(out.length);
          out[p] ^= 1 << int(8);
        }
        what.push(`flip ${n} bits`);
        break;
      }
      case 1: {
        const len = int(out.length);
        out = out.subarray(0, len);
        what.push(`truncate to ${len}`);
        break;
      }
      case 2: {
        const p = int(out.length), n = int(4096);
        out.fill(0, p, Math.min(out.length, p + n));
        what.push(`zero ${n} at ${p}`);
        break;
      }
      case 3: {
        const p = int(out.length), n = int(512);
        for (let k = p; k < Math.min(out.length, p + n); k++) out[k] = int(256);
        what.push(`random ${n} at ${p}`);
        break;
      }
      case 4: {
        // Inflate a size or offset: prefer chunk-header fields and record-header sizes.
        const n = 1 + int(16);
        for (let k = 0; k < n; k++) {
          const chunk = 0x1000 + 0x10000 * int(Math.max(1, Math.floor((out.length - 0x1000) / 0x10000)));
          const field = [40, 44, 48, 52, 124, 128 + 4 * int(64), 384 + 4 * int(32)][int(7)];
          let p = int(2) === 0 ? chunk + field : (int(out.length) & ~3) + 4;
          if (int(3) === 0) {
            const sig = out.indexOf(Buffer.from([0x2a, 0x2a, 0, 0]), int(out.length));
            if (sig >= 0) p = sig + 4;
          }
          if (p + 4 <= out.length) out.writeUInt32LE(BIG[int(BIG.length)] >>> 0, p);
        }
        what.push(`inflate ${n} fields`);
        break;
      }
    }
  }
  return { bytes: Buffer.from(out), what: what.join(', ') };
}
