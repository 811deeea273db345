// Streaming JSON splitter: bytes in, one top-level JSON text per record out, never holding more than the
// current record. Handles JSON lines, a JSON array (its elements come out one by one), and concatenated or
// pretty-printed objects. It only finds boundaries; JSON.parse decides validity, so a bad line is one reject.
// Scanning bytes is safe for UTF-8: multi-byte sequences never contain ASCII structural characters.

import { isUtf8 } from 'node:buffer';

export interface Piece {
  text: string;
  /** Byte offset of the piece in the stream. */
  offset: number;
  /** 1-based line where the piece starts. */
  line: number;
  /** 0-based index for array elements. */
  index?: number;
  /** Set when the splitter itself knows the text is not a JSON value (garbage, truncated). */
  bad?: string;
  /** Set when the input was UTF-16 text: `offset` then counts bytes of its UTF-8 form (ingest/json/content.ts). */
  utf16?: true;
  /** Set when the bytes are not valid UTF-8: `text` holds U+FFFD in place of each bad sequence. */
  notUtf8?: true;
}

/**
 * No Windows event comes near this (an EVTX record lives in a 64 KiB chunk): larger is rejected unparsed.
 * Not more: what a record parses to must fit a pool worker's heap (256 MB) with room to spare, and 16 MiB
 * of `[{},{},...]` parsed to more than that (a fatal out-of-memory that ended hunt); 8 MiB still fits.
 */
const MAX_PIECE = 4 * 1024 * 1024;

const enum C { NL = 10, CR = 13, SP = 32, TAB = 9, QUOTE = 34, BSL = 92, COMMA = 44, LBRACE = 123, RBRACE = 125, LBRACK = 91, RBRACK = 93 }

/** JSON's whitespace (space, tab, line feed, carriage return), as a byte or a character code. */
export function ws(c: number): boolean {
  return c === C.SP || c === C.NL || c === C.CR || c === C.TAB;
}

/**
 * The text of buf[s, e) without surrounding whitespace, as a piece. Not a closure of splitJson: its optimized
 * code was thrown away whenever another input's splitter (another closure) reached the same call.
 */
function pieceOf(buf: Buffer, base: number, s: number, e: number, ln: number, extra?: Partial<Piece>): Piece {
  let a = s, b = e;
  while (a < b && ws(buf[a])) a++;
  while (b > a && ws(buf[b - 1])) b--;
  const p: Piece = { text: buf.toString('utf8', a, b), offset: base + a, line: ln, ...extra };
  // Decoding replaces bad bytes without a word: the evidence text would change silently (validated with
  // SIMD: a few ms for 40 MB).
  if (!isUtf8(buf.subarray(a, b))) p.notUtf8 = true;
  return p;
}

type Mode = 'start' | 'lines' | 'array' | 'value';

/**
 * The splitter's scan, synchronous: chunks in, the pieces they complete out. Kept apart from the async
 * generator: TurboFan compiled the scan inside the generator's state machine (and again on stack for its
 * loop) at ~110 ms a time, 8 times per hunt of ../shared, 38% of all its compile time.
 */
export class JsonSplitter {
  private buf: Buffer = Buffer.alloc(0);
  private base = 0; // stream offset of buf[0]
  private i = 0; // scan position in buf
  private line = 1; // line at buf[i]
  private mode: Mode = 'start';
  // scanner state for array/value modes
  private start = -1;
  private startLine = 0;
  private depth = 0;
  private inStr = false;
  private esc = false;
  private sawNl = false;
  private index = 0;
  private first = true;
  // An oversized record was reported: its bytes are dropped as they come, until it ends.
  private skipping = false;

  /** Takes the next bytes; the pieces they complete, in order. */
  scan(chunk: Buffer): Piece[] {
    // The state in locals for the scan (the loop reads and writes them per byte), stored back at the end.
    let buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let base = this.base, i = this.i, line = this.line, mode = this.mode, start = this.start, startLine = this.startLine;
    let depth = this.depth, inStr = this.inStr, esc = this.esc, sawNl = this.sawNl, index = this.index, skipping = this.skipping;
    if (this.first && buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) { i = 3; }
    this.first = false;
    const out: Piece[] = [];
    let consumed = 0;
    for (;;) {
      if (mode === 'start') {
        while (i < buf.length && ws(buf[i])) { if (buf[i] === C.NL) line++; i++; }
        if (i >= buf.length) { consumed = i; break; }
        const b = buf[i];
        if (b === C.LBRACK) { mode = 'array'; i++; start = -1; depth = 0; index = 0; consumed = i; continue; }
        if (b === C.LBRACE) { mode = 'value'; start = i; startLine = line; depth = 0; inStr = false; esc = false; sawNl = false; consumed = i; continue; }
        mode = 'lines';
        consumed = i;
        continue;
      }
      if (mode === 'lines') {
        if (skipping) {
          const nl = buf.indexOf(C.NL, i);
          if (nl < 0) { i = buf.length; consumed = i; break; }
          skipping = false;
          line++;
          i = nl + 1;
          consumed = i;
          continue;
        }
        const nl = buf.indexOf(C.NL, i);
        if (nl < 0) { consumed = i; break; }
        const p = pieceOf(buf, base, i, nl, line);
        if (p.text.length > 0) out.push(p);
        line++;
        i = nl + 1;
        consumed = i;
        continue;
      }
      // 'value' (top-level objects) and 'array' (elements of a top-level array): bracket scanning.
      let done = false;
      while (i < buf.length) {
        const b = buf[i];
        // A record that begins at the start of a line while another is still open: the open one is broken
        // (a cut line). It is reported alone and does not swallow the records after it. Valid JSON never
        // holds a raw newline in a string, and nested values of a pretty-printed record are indented.
        if (b === C.NL && mode === 'value' && depth > 0) {
          if (i + 1 >= buf.length) break; // the next byte decides: wait for it
          if (buf[i + 1] === C.LBRACE) {
            out.push({ ...pieceOf(buf, base, start, i, startLine), bad: 'truncated: a record starts on the next line before this one closed' });
            line++;
            i++;
            start = i; startLine = line; depth = 0; inStr = false; esc = false; sawNl = false;
            continue;
          }
        }
        if (inStr) {
          if (esc) esc = false;
          else if (b === C.BSL) esc = true;
          else if (b === C.QUOTE) inStr = false;
          else if (b === C.NL) line++;
          i++;
          continue;
        }
        if (b === C.NL) { line++; sawNl = true; }
        if (mode === 'array' && start < 0) {
          if (ws(b) || b === C.COMMA) { i++; continue; }
          if (b === C.RBRACK) { i++; mode = 'start'; consumed = i; done = true; break; }
          start = i; startLine = line; depth = 0;
        }
        if (b === C.QUOTE) inStr = true;
        else if (b === C.LBRACE || b === C.LBRACK) depth++;
        else if (b === C.RBRACE || b === C.RBRACK) {
          if (depth === 0 && mode === 'array') { // the array's own `]`
            if (skipping) { skipping = false; index++; } else out.push(pieceOf(buf, base, start, i, startLine, { index: index++ }));
            start = -1; i++; mode = 'start'; consumed = i; done = true; break;
          }
          depth--;
          if (depth === 0 && mode === 'value') {
            i++;
            if (skipping) skipping = false; else out.push(pieceOf(buf, base, start, i, startLine));
            // One object per line: the rest of the file is JSON lines (a bad line cannot swallow the next).
            mode = sawNl ? 'start' : 'lines';
            if (mode === 'lines') { while (i < buf.length && buf[i] !== C.NL && ws(buf[i])) i++; }
            start = -1; consumed = i; done = true; break;
          }
        } else if (b === C.COMMA && depth === 0 && mode === 'array') {
          if (skipping) { skipping = false; index++; } else out.push(pieceOf(buf, base, start, i, startLine, { index: index++ }));
          start = -1; i++; consumed = i; continue;
        }
        i++;
      }
      if (!done) { consumed = start >= 0 && !skipping ? start : i; break; }
    }
    if (consumed > 0) {
      buf = buf.subarray(consumed);
      base += consumed;
      i -= consumed;
      // While skipping, start only says "inside a value" (its bytes are gone).
      if (start >= 0) start = skipping ? 0 : start - consumed;
    }
    if (buf.length > MAX_PIECE && !skipping) {
      // Reported with its first KiB; the rest of it is dropped, and reading resumes after it.
      const at = mode === 'lines' ? i : Math.max(start, 0);
      out.push({ text: buf.toString('utf8', at, Math.min(buf.length, at + 1024)), offset: base + at, line: mode === 'lines' ? line : startLine, bad: `record larger than ${MAX_PIECE} bytes` });
      skipping = true;
      if (mode === 'lines') { base += buf.length; buf = Buffer.alloc(0); i = 0; }
      else { base += i; buf = buf.subarray(i); i = 0; if (start >= 0) start = 0; }
    }
    this.buf = buf; this.base = base; this.i = i; this.line = line; this.mode = mode; this.start = start; this.startLine = startLine;
    this.depth = depth; this.inStr = inStr; this.esc = esc; this.sawNl = sawNl; this.index = index; this.skipping = skipping;
    return out;
  }

  /** End of input: what is left is the last line, or a truncated value. */
  end(): Piece[] {
    const { buf, base, i, line, mode, start, startLine, index, skipping } = this;
    if (mode === 'lines') {
      const p = pieceOf(buf, base, i, buf.length, line);
      return p.text.length > 0 ? [p] : [];
    }
    if (mode === 'array' || mode === 'value') {
      if (start >= 0 && !skipping) return [{ ...pieceOf(buf, base, start, buf.length, startLine, mode === 'array' ? { index } : {}), bad: 'truncated: input ended inside a JSON value' }];
      if (mode === 'array') return [{ text: '', offset: base + i, line, bad: 'truncated: JSON array not closed' }];
    }
    return [];
  }
}

export async function* splitJson(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<Piece> {
  const splitter = new JsonSplitter();
  // Plain loops, not yield*: an async generator's yield* over an array awaits each item once more.
  for await (const c of chunks) for (const p of splitter.scan(typeof c === 'string' ? Buffer.from(c) : c)) yield p;
  for (const p of splitter.end()) yield p;
}
