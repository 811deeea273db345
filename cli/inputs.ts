// Expands the command line's paths: files as given, directories searched recursively (sorted, so runs are
// repeatable) for the wanted extensions.

import { opendir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface Input {
  path: string;
  /** Why the path cannot be read, when it cannot. */
  error?: string;
}

export async function* expandInputs(paths: string[], extensions: string[]): AsyncGenerator<Input> {
  const wanted = (name: string) => {
    const lower = name.toLowerCase();
    return extensions.some((e) => lower.endsWith(e));
  };
  for (const p of paths) {
    let st;
    try {
      st = await stat(p);
    } catch (e) {
      yield { path: p, error: `cannot open: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
      continue;
    }
    if (st.isDirectory()) yield* walk(p, wanted);
    else yield { path: p };
  }
}

async function* walk(dir: string, wanted: (name: string) => boolean): AsyncGenerator<Input> {
  let entries: { name: string; dir: boolean }[] = [];
  try {
    const d = await opendir(dir);
    for await (const e of d) entries.push({ name: e.name, dir: e.isDirectory() });
  } catch (e) {
    yield { path: dir, error: `cannot list: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
    return;
  }
  entries = entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.dir) yield* walk(p, wanted);
    else if (wanted(e.name)) yield { path: p };
  }
}
