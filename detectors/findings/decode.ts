// Undoing the encodings attackers wrap PowerShell in: `-EncodedCommand` (base64 of UTF-16LE) and base64
// blobs fed to FromBase64String, raw or deflate/gzip-compressed. Bounded: input, output and depth are all
// capped, so a hostile log cannot make decoding expensive.
import { gunzipSync, inflateRawSync } from 'node:zlib';

/** Base64 text longer than this is not decoded (a 1 MB blob is not a command). */
const MAX_B64 = 256 * 1024;
/** Decompressed payloads are cut at this size. */
const MAX_INFLATED = 256 * 1024;
const MAX_DEPTH = 3;
/** Each decoded layer kept is cut at this size (the whole layer is still searched for the next one). */
const MAX_KEPT = 64 * 1024;

// Any prefix of -EncodedCommand from -e up; PowerShell accepts them all, also with / and en dash.
const ENC_ARG = /(?:^|[\s"'])(?:-|\/|\u2013)e(?:c|n(?:c(?:o(?:d(?:e(?:d(?:c(?:o(?:m(?:m(?:a(?:n(?:d)?)?)?)?)?)?)?)?)?)?)?)?)?\s+["']?([A-Za-z0-9+/]{12,}={0,2})/gi;
const FROM_B64 = /FromBase64String\s*\(\s*["']([A-Za-z0-9+/\s]{12,}={0,2})["']\s*\)/gi;
const COMPRESSED = /(DeflateStream|GZipStream|IO\.Compression)/i;

/** Share of characters that look like script text; decoded garbage scores low. */
function textLike(s: string): boolean {
  if (s.length === 0) return false;
  let ok = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 32 && c < 127) || c === 9 || c === 10 || c === 13) ok++;
  }
  return ok / s.length > 0.9;
}

export function decodeUtf16Base64(b64: string): string | undefined {
  if (b64.length > MAX_B64) return undefined;
  const s = Buffer.from(b64, 'base64').toString('utf16le').replace(/\0+$/, '');
  return textLike(s) ? s : undefined;
}

function decodeBlob(b64: string, compressed: boolean): string | undefined {
  if (b64.length > MAX_B64) return undefined;
  const buf = Buffer.from(b64.replace(/\s+/g, ''), 'base64');
  if (compressed) {
    for (const f of [inflateRawSync, gunzipSync]) {
      try {
        const out = f(buf, { maxOutputLength: MAX_INFLATED }).toString('utf8');
        if (textLike(out)) return out;
      } catch { /* not this format, or larger than the cap */ }
    }
  }
  const u8 = buf.toString('utf8');
  if (textLike(u8)) return u8;
  const u16 = buf.toString('utf16le');
  return textLike(u16) ? u16 : undefined;
}

export interface Decoded {
  /** How each layer was undone, outermost first (`EncodedCommand`, `FromBase64String+deflate`). */
  layers: string[];
  /** Every decoded layer's text, outermost first. */
  texts: string[];
}

/** Decodes every encoded layer found in a command line or script text. */
export function decodeLayers(text: string): Decoded {
  const out: Decoded = { layers: [], texts: [] };
  const walk = (t: string, depth: number): void => {
    if (depth >= MAX_DEPTH || out.texts.length >= 8) return;
    for (const m of t.matchAll(ENC_ARG)) {
      const d = decodeUtf16Base64(m[1]);
      if (d) { out.layers.push('EncodedCommand (base64, UTF-16LE)'); out.texts.push(d.slice(0, MAX_KEPT)); walk(d, depth + 1); }
    }
    const compressed = COMPRESSED.test(t);
    for (const m of t.matchAll(FROM_B64)) {
      const d = decodeBlob(m[1], compressed);
      if (d) { out.layers.push(compressed ? 'FromBase64String + deflate/gzip' : 'FromBase64String'); out.texts.push(d.slice(0, MAX_KEPT)); walk(d, depth + 1); }
    }
  };
  walk(text, 0);
  return out;
}

/** True when text carries -EncodedCommand with a payload. */
export function hasEncodedCommand(text: string): boolean {
  ENC_ARG.lastIndex = 0;
  const r = ENC_ARG.test(text);
  ENC_ARG.lastIndex = 0;
  return r;
}
