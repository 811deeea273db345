// Where documents the cluster refuses go: one JSON object per line, with the reason, so they can be
// inspected and replayed. A write is awaited before the document counts as settled (at-least-once).
import { mkdirSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface RejectRecord {
  time: string;
  index: string;
  id: string;
  op: string;
  status: number;
  /** Elasticsearch's error object ({type, reason, caused_by...}) or our own reason. */
  error: unknown;
  doc: unknown;
}

export interface RejectSink {
  write(records: readonly RejectRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** Appends to a JSON-lines file, created (with its directory) on first write. */
export class JsonlRejectFile implements RejectSink {
  private fh: FileHandle | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {}

  write(records: readonly RejectRecord[]): Promise<void> {
    if (records.length === 0) return this.chain;
    const text = records.map((r) => JSON.stringify(r)).join('\n') + '\n';
    // Serialised so lines from concurrent batches never interleave.
    this.chain = this.chain.then(async () => {
      if (!this.fh) {
        mkdirSync(dirname(this.path), { recursive: true });
        this.fh = await open(this.path, 'a');
      }
      await this.fh.appendFile(text);
    });
    return this.chain;
  }

  async close(): Promise<void> {
    await this.chain;
    await this.fh?.close();
    this.fh = undefined;
  }
}

/** Keeps rejects in memory (tests, or callers that route them elsewhere). */
export class MemoryRejectSink implements RejectSink {
  readonly records: RejectRecord[] = [];
  async write(records: readonly RejectRecord[]): Promise<void> {
    this.records.push(...records);
  }
  async close(): Promise<void> {}
}
