// Every input the CLI accepts, as one stream of adapted records and rejects: EVTX files through
// ingest/evtx, JSON (plain or archived) through ingest/json. Directories are walked in name order.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { InputFormat } from '../schemas/event.js';
import { readEvtx, type EvtxReadItem } from './evtx/index.js';
import type { JsonFormat } from './json/detect.js';
import { readJsonFile, reject, type InputItem } from './json/read.js';

export type { InputItem } from './json/read.js';

const INPUT_EXT = /\.(evtx|json|jsonl|ndjson|zip|gz|tgz|tar)$/i;

/** Expand directories to the input files inside; plain paths pass through (even with other extensions). */
export async function expandPaths(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const s = await stat(p);
    if (!s.isDirectory()) { out.push(p); continue; }
    const names = (await readdir(p)).sort();
    const inner: string[] = [];
    for (const n of names) {
      const q = join(p, n);
      const st = await stat(q);
      if (st.isDirectory() || INPUT_EXT.test(n)) inner.push(q);
    }
    out.push(...(await expandPaths(inner)));
  }
  return out;
}

export function isEvtxPath(p: string, format?: InputFormat): boolean {
  return format === 'evtx' || (format === undefined && /\.evtx$/i.test(p));
}

/** One EVTX parser item as an input item: errors are rejects, warnings warnings; a fatal error throws. */
export function evtxInputItem(file: string, it: EvtxReadItem): InputItem {
  if (it.kind === 'record') {
    const prov: InputItem & { kind: 'record' } = {
      kind: 'record', record: it.record,
      prov: { format: 'evtx', file, chunk: it.loc.chunk, offset: it.loc.offset },
    };
    if (it.recovered) prov.prov.recovered = true;
    return prov;
  }
  if (it.severity === 'fatal') throw new Error(it.message);
  if (it.severity === 'warning') return { kind: 'warning', source: file, message: `chunk ${it.loc.chunk} offset ${it.loc.offset}: ${it.message}` };
  return { kind: 'reject', reject: reject(file, `chunk ${it.loc.chunk}, offset ${it.loc.offset}`, it.message, '', 'evtx') };
}

/** Records of one EVTX file; parser errors are rejects, warnings are warnings; a fatal error throws. */
export async function* readEvtxFile(file: string): AsyncGenerator<InputItem> {
  for await (const it of readEvtx(file)) yield evtxInputItem(file, it);
}

/** One input file of any supported kind. Throws when it cannot be opened or read at all. */
export function readInput(file: string, format?: InputFormat): AsyncGenerator<InputItem> {
  return isEvtxPath(file, format) ? readEvtxFile(file) : readJsonFile(file, format as JsonFormat | undefined);
}
