// Everything in the report that came from evidence is attacker-controlled (host names, users, script
// text). It only ever reaches the page through these functions: HTML-escaped, bidi overrides and control
// characters made visible, and cut to a bounded length.

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Text for element content or a quoted attribute value. */
export function esc(v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v);
  // Bidi overrides could make a command read differently from what it is; NUL and other C0 controls
  // (except tab and newlines) have no business in a page.
  return s
    .replace(/[\u202A-\u202E\u2066-\u2069\u200E\u200F]/g, '\uFFFD')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g, '\uFFFD')
    .replace(/[&<>"'`]/g, (c) => ENTITIES[c]);
}

/** Escaped text cut at max characters, with the cut said out loud. */
export function escClip(v: string | undefined, max: number): string {
  const s = v ?? '';
  return s.length <= max ? esc(s) : `${esc(s.slice(0, max))}<span class="cut"> [${s.length - max} more characters]</span>`;
}
