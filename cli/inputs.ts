// The command line's paths, expanded: one walker for every command (ingest/sources.ts).
import { walkInputs, type Input } from '../ingest/sources.js';

export type { Input };

export function expandInputs(paths: string[], extensions: string[]): AsyncGenerator<Input> {
  return walkInputs(paths, (name) => {
    const lower = name.toLowerCase();
    return extensions.some((e) => lower.endsWith(e));
  });
}
