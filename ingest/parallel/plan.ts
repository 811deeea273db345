// How a zip archive is shared among the pool's workers: each EVTX member a job of its own (inflated on one
// thread while other workers take other members; a large one's chunks are handed out in parts, as a large
// JSON input's pieces are), and each run of other members between them one job. Tar streams are read in
// order only and stay one job (its EVTX chunks handed out in parts all the same); the first pass inflates a
// .tar.gz once more to look for JSON members (0.28 s for 200 MB of EVTX), a zip's it passes over for free.
import { zipNames, type EntryRange } from '../json/archive.js';
import { isEvtxMember } from '../json/read.js';
import { fileKind } from '../kind.js';

/**
 * Central-directory ranges of a zip, one per job, in entry order. Undefined: the input is one job (not a
 * zip, no EVTX member, or a directory that cannot be read: that job reports why, as one thread would).
 */
export async function zipShares(file: string): Promise<EntryRange[] | undefined> {
  if (fileKind(file) !== 'zip') return undefined;
  let names: string[];
  try {
    names = await zipNames(file);
  } catch {
    return undefined;
  }
  return shares(names);
}

/** The ranges for entries named `names`: one per EVTX member, one per run of others between them. */
export function shares(names: string[]): EntryRange[] | undefined {
  if (!names.some(isEvtxMember)) return undefined;
  const out: EntryRange[] = [];
  let from = 0;
  for (let i = 0; i < names.length; i++) {
    if (!isEvtxMember(names[i])) continue;
    if (i > from) out.push({ from, to: i });
    out.push({ from: i, to: i + 1 });
    from = i + 1;
  }
  if (from < names.length) out.push({ from, to: names.length });
  return out;
}
