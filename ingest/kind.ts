// What an input is. Evidence arrives renamed (`Security`, `DC01_Security.evtx.bak`, a zip saved as
// `logs.json`): a signature in the first bytes (EVTX, zip, gzip, tar) decides before the name does, and the
// name decides only when the bytes carry none (a damaged EVTX header, a cut archive, JSON text).
import { closeSync, openSync, readSync, statSync } from 'node:fs';

export type FileKind = 'evtx' | 'zip' | 'tar' | 'tgz' | 'gz' | 'json';
export type Signature = 'evtx' | 'zip' | 'gzip' | 'tar';

/** Enough for every signature (tar's sits at 257). */
export const SNIFF_BYTES = 512;

const EVTX_FILE = Buffer.from('ElfFile\0', 'latin1');
const EVTX_CHUNK = Buffer.from('ElfChnk\0', 'latin1');
const USTAR = Buffer.from('ustar', 'latin1');

function startsWith(b: Uint8Array, sig: Uint8Array, at = 0): boolean {
  if (b.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig[i]) return false;
  return true;
}

/** The signature at the start of `head`, if any. A log carved from its first chunk on is EVTX too. */
export function signature(head: Uint8Array): Signature | undefined {
  if (startsWith(head, EVTX_FILE) || startsWith(head, EVTX_CHUNK)) return 'evtx';
  // Local file header, empty archive, spanned-archive marker.
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6) || (head[2] === 7 && head[3] === 8))) return 'zip';
  if (head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 8) return 'gzip';
  if (startsWith(head, USTAR, 257)) return 'tar';
  return undefined;
}

/** The kind a name gives: the extension, in any case. */
export function kindByName(path: string): FileKind {
  const p = path.toLowerCase();
  if (p.endsWith('.evtx')) return 'evtx';
  if (p.endsWith('.zip')) return 'zip';
  if (p.endsWith('.tar.gz') || p.endsWith('.tgz')) return 'tgz';
  if (p.endsWith('.tar')) return 'tar';
  if (p.endsWith('.gz')) return 'gz';
  return 'json';
}

/**
 * The signature of a regular file's first bytes. Anything else (a pipe named on the command line, a
 * device, a file that cannot be opened) is not read here: reading would take bytes its reader needs, or
 * wait; its reader reports what is wrong.
 */
function sniffFile(path: string): Signature | undefined {
  let fd: number;
  try {
    // Not even opened: opening a FIFO waits for a writer (this thread blocked), and closing it again
    // would leave its writer without a reader (SIGPIPE) before the real reader came.
    if (!statSync(path).isFile()) return undefined;
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const head = Buffer.alloc(SNIFF_BYTES);
    const n = readSync(fd, head, 0, SNIFF_BYTES, 0);
    return signature(head.subarray(0, n));
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Kinds already decided, by path: each input is asked about several times (planning, reading, workers). */
const known = new Map<string, FileKind>();

/**
 * What an input file is. `format` is the user's --input-format: `evtx` makes a file without an archive's
 * signature EVTX whatever its name; a JSON format never turns an EVTX or an archive into JSON.
 */
export function fileKind(path: string, format?: string): FileKind {
  const key = format === 'evtx' ? `evtx\0${path}` : path;
  let k = known.get(key);
  if (k === undefined) {
    k = decide(path, format);
    known.set(key, k);
  }
  return k;
}

function decide(path: string, format?: string): FileKind {
  const sig = sniffFile(path);
  if (sig === 'evtx') return 'evtx';
  if (sig === 'zip' || sig === 'tar') return sig;
  const named = kindByName(path);
  if (sig === 'gzip') return named === 'tgz' ? 'tgz' : 'gz';
  if (format === 'evtx') return 'evtx';
  // A name that promises a signature the bytes lack (a cut or damaged archive) is read as named: its
  // reader reports the damage.
  return named;
}
