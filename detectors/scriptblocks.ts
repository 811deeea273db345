// 4104 script blocks logged in parts (MessageNumber of MessageTotal, one ScriptBlockId): joined in the
// stream with bounded memory. A block is emitted when all its parts are in, or flagged partial when its
// first part is older than the timeout or the pending set is full.
import type { NormalizedEvent } from '../schemas/event.js';

export interface ScriptBlock {
  /** The first part's event (time, host, process, provenance). */
  event: NormalizedEvent;
  /** Every part's event, in part order (evidence). */
  parts: NormalizedEvent[];
  text: string;
  partial: boolean;
}

interface Pending { first: number; total: number; parts: Map<number, NormalizedEvent>; bytes: number }

export class ScriptBlockAssembler {
  private readonly pending = new Map<string, Pending>();
  /** Blocks already emitted: the same block is sometimes logged twice, and a late copy is no new block. */
  private readonly done = new Set<string>();
  private bytes = 0;
  constructor(private readonly timeoutMs = 5 * 60_000, private readonly maxBlocks = 10_000, private readonly maxBytes = 64 << 20) {}

  private static key(e: NormalizedEvent): string {
    return `${e.host.name}|${e.powershell?.file?.script_block_id ?? ''}`;
  }

  private static build(p: Pending, partial: boolean): ScriptBlock {
    const parts = [...p.parts].sort((a, b) => a[0] - b[0]).map((x) => x[1]);
    const text = parts.map((e) => e.powershell?.file?.script_block_text ?? '').join('');
    return { event: parts[0], parts, text, partial };
  }

  /** Adds one 4104; returns blocks now complete, plus any forced out as partial. */
  add(e: NormalizedEvent): ScriptBlock[] {
    const n = e.powershell?.sequence ?? 1;
    const total = e.powershell?.total ?? 1;
    if (total <= 1 || !e.powershell?.file?.script_block_id) {
      return [{ event: e, parts: [e], text: e.powershell?.file?.script_block_text ?? '', partial: false }];
    }
    const k = ScriptBlockAssembler.key(e);
    if (this.done.has(k)) return [];
    const t = Date.parse(e['@timestamp']);
    let p = this.pending.get(k);
    if (!p) { p = { first: t, total, parts: new Map(), bytes: 0 }; this.pending.set(k, p); }
    const size = (e.powershell?.file?.script_block_text ?? '').length;
    if (!p.parts.has(n)) { p.parts.set(n, e); p.bytes += size; this.bytes += size; }
    const out: ScriptBlock[] = [];
    if (p.parts.size >= p.total) {
      this.pending.delete(k);
      this.bytes -= p.bytes;
      this.finished(k);
      out.push(ScriptBlockAssembler.build(p, false));
    }
    // Bounded memory: the oldest pending blocks go out as partial.
    while (this.pending.size > this.maxBlocks || this.bytes > this.maxBytes) {
      const [ok, op] = this.pending.entries().next().value as [string, Pending];
      this.pending.delete(ok);
      this.bytes -= op.bytes;
      out.push(ScriptBlockAssembler.build(op, true));
    }
    return out;
  }

  private finished(k: string): void {
    this.done.add(k);
    if (this.done.size > this.maxBlocks) {
      const first = this.done.values().next().value;
      if (first !== undefined) this.done.delete(first);
    }
  }

  /** Blocks whose first part is older than the timeout at `now`, flagged partial. */
  expire(now: number): ScriptBlock[] {
    const out: ScriptBlock[] = [];
    for (const [k, p] of this.pending) {
      if (p.first + this.timeoutMs < now) {
        this.pending.delete(k);
        this.bytes -= p.bytes;
        this.finished(k);
        out.push(ScriptBlockAssembler.build(p, true));
      }
    }
    return out;
  }

  flush(): ScriptBlock[] {
    return this.expire(Infinity);
  }

  get size(): number {
    return this.pending.size;
  }
}
