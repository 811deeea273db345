// What an entry's bytes hold, told from its first bytes without losing them: another log format (EVTX by
// its signature), another archive, or JSON text in UTF-16 (what Windows PowerShell 5.1 writes with
// `Out-File` or `>`), which is decoded to UTF-8 for the splitter.
import { SNIFF_BYTES } from '../kind.js';

export type TextEncoding = 'utf8' | 'utf16le' | 'utf16be';

export interface Peeked {
  head: Buffer;
  /** All the bytes, the head first; a failure of the source while peeking is thrown from here. */
  chunks: AsyncIterable<Buffer>;
  /** For a consumer that reads none of `chunks`: ends the source (a zip member's file descriptor). */
  close(): Promise<void>;
}

/** The first `n` bytes (fewer when the source is shorter) of a chunk stream, and the whole stream still. */
export async function peek(src: AsyncIterable<Buffer>, n = SNIFF_BYTES): Promise<Peeked> {
  const it = src[Symbol.asyncIterator]();
  const got: Buffer[] = [];
  let len = 0, done = false, failure: unknown;
  try {
    while (len < n) {
      const r = await it.next();
      if (r.done) { done = true; break; }
      got.push(r.value);
      len += r.value.length;
    }
  } catch (e) {
    failure = e;
    done = true;
  }
  const head = got.length === 1 ? got[0] : Buffer.concat(got);
  let open = !done;
  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      if (head.length > 0) yield head;
      if (failure !== undefined) throw failure;
      while (open) {
        const r = await it.next();
        if (r.done) { open = false; return; }
        yield r.value;
      }
    } finally {
      if (open) { open = false; await it.return?.(); }
    }
  }
  return {
    head: head.length > n ? head.subarray(0, n) : head,
    chunks: chunks(),
    close: async () => { if (open) { open = false; await it.return?.(); } },
  };
}

/**
 * The encoding of JSON text from its first bytes: a UTF-16 byte-order mark, or, without one, the NUL
 * beside each ASCII character that UTF-16 gives a JSON text's first character (`{`, `[`, a space).
 */
export function textEncoding(head: Uint8Array): TextEncoding {
  if (head.length >= 2) {
    const [a, b] = head;
    if (a === 0xff && b === 0xfe) return 'utf16le';
    if (a === 0xfe && b === 0xff) return 'utf16be';
    if (b === 0 && a !== 0 && a < 0x80) return 'utf16le';
    if (a === 0 && b !== 0 && b < 0x80) return 'utf16be';
  }
  return 'utf8';
}

/** UTF-16 text as UTF-8 bytes, chunk by chunk (a character split across chunks is kept whole; a BOM is dropped). */
export async function* utf16ToUtf8(src: AsyncIterable<Buffer>, encoding: 'utf16le' | 'utf16be'): AsyncGenerator<Buffer> {
  const decoder = new TextDecoder(encoding === 'utf16le' ? 'utf-16le' : 'utf-16be');
  for await (const c of src) {
    const s = decoder.decode(c, { stream: true });
    if (s.length > 0) yield Buffer.from(s, 'utf8');
  }
  const s = decoder.decode();
  if (s.length > 0) yield Buffer.from(s, 'utf8');
}
