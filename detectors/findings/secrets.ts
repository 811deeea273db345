// Secrets written into command text (a literal password given to ConvertTo-SecureString -AsPlainText, to a
// PSCredential, to net user / net use / winrs / cmdkey): found, and masked everywhere hoptrail shows text.
export const MASK = '********';

interface SecretPattern {
  name: string;
  re: RegExp;
  /** Index of the capture group holding the secret. */
  group: number;
}

// A quoted literal: '...' or "..." (no variables: `$x` is not a literal password).
const Q = `(?:'([^'\\r\\n]{1,256})'|"([^"$\\r\\n]{1,256})")`;

const PATTERNS: SecretPattern[] = [
  // ConvertTo-SecureString "pw" -AsPlainText / ConvertTo-SecureString -String 'pw' -AsPlainText -Force
  { name: 'ConvertTo-SecureString -AsPlainText', re: new RegExp(`ConvertTo-SecureString\\s+(?:-AsPlainText\\s+)?(?:-Force\\s+)?(?:-String\\s+)?${Q}(?=[^;|\\r\\n)]*-AsPlainText|\\s+-AsPlainText)`, 'gi'), group: 1 },
  { name: 'ConvertTo-SecureString -AsPlainText', re: new RegExp(`ConvertTo-SecureString\\s+-AsPlainText(?:\\s+-Force)?\\s+(?:-String\\s+)?${Q}`, 'gi'), group: 1 },
  // New-Object PSCredential('user', 'pw') with a literal (rare, but it happens with a plain string cast)
  { name: 'PSCredential from a literal password', re: new RegExp(`PSCredential\\s*(?:-ArgumentList\\s*)?\\(?\\s*${Q}\\s*,\\s*${Q}`, 'gi'), group: 3 },
  // net user NAME PASSWORD /add, net use \\host PASSWORD /user:X
  { name: 'net user with a password', re: /\bnet1?(?:\.exe)?["']?\s+user\s+("[^"]+"|\S+)\s+(?!\/)([^\s*"/][^\s"]{0,255}|"[^"*]{1,256}")\s*(?=\/add|\/domain|$)/gim, group: 2 },
  { name: 'net use with a password', re: /\bnet1?(?:\.exe)?["']?\s+use\s+\S+\s+(?!\/)([^\s*"/][^\s"]{0,255}|"[^"*]{1,256}")\s+\/u(?:ser)?:/gi, group: 1 },
  { name: 'winrs -p:', re: /\bwinrs(?:\.exe)?\b[^\r\n]*?\s[-/]p(?:assword)?:("[^"]{1,256}"|\S{1,256})/gi, group: 1 },
  { name: 'cmdkey /pass:', re: /\bcmdkey(?:\.exe)?\b[^\r\n]*?\s\/pass:("[^"]{1,256}"|\S{1,256})/gi, group: 1 },
];

export interface SecretHit {
  kind: string;
  /** Start and end of the secret in the text. */
  start: number;
  end: number;
}

/** Every literal secret in the text, without overlaps, in text order. */
export function findSecrets(text: string): SecretHit[] {
  const hits: SecretHit[] = [];
  for (const p of PATTERNS) {
    p.re.lastIndex = 0;
    for (const m of text.matchAll(p.re)) {
      // The secret is the first capture group at or after p.group that matched (the two quote styles).
      let g = p.group;
      while (g < m.length && m[g] === undefined) g++;
      const v = m[g];
      if (v === undefined || m.index === undefined) continue;
      const start = m.index + m[0].lastIndexOf(v);
      hits.push({ kind: p.name, start, end: start + v.length });
    }
  }
  hits.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: SecretHit[] = [];
  for (const h of hits) if (out.length === 0 || h.start >= out[out.length - 1].end) out.push(h);
  return out;
}

/** The text with every literal secret replaced by a fixed mask (its length is not revealed either). */
export function maskSecrets(text: string): string {
  const hits = findSecrets(text);
  if (hits.length === 0) return text;
  let out = '', at = 0;
  for (const h of hits) {
    const v = text.slice(h.start, h.end);
    const q = v.length >= 2 && (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0] ? v[0] : '';
    out += text.slice(at, h.start) + q + MASK + q;
    at = h.end;
  }
  return out + text.slice(at);
}
