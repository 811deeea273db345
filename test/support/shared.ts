// Locates ../shared (the read-only corpus and datasets beside the clone). Tests that need it skip, saying
// so, when it is absent; in CI it is always there.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file compiles to dist/test/support/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export const SHARED_DIR = process.env.HOPTRAIL_SHARED ?? join(REPO_ROOT, '..', 'shared');

export const HAVE_SHARED = existsSync(join(SHARED_DIR, 'corpus'));

/** Pass as the `skip` option of a test: false when the shared data is there, else the reason. */
export const SKIP_NO_SHARED: string | false = HAVE_SHARED ? false : `shared data not found at ${SHARED_DIR}`;

export function sharedPath(...parts: string[]): string {
  return join(SHARED_DIR, ...parts);
}
