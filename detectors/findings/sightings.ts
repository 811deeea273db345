// Command text seen in events, gathered per host and distinct text: the same stager logged by 4688,
// Sysmon 1, 400, 600, 800 and 4103 is one sighting with six pieces of evidence. Only texts that some rule
// cares about are kept, and the analysis of each distinct text is cached, so repeated texts cost one lookup.
import { createHash } from 'node:crypto';
import type { NormalizedEvent } from '../../schemas/event.js';
import { analyzeText, type TextAnalysis } from './patterns.js';
import { directlyRemote } from './scope.js';
import { evidenceOf, EvidenceKeeper } from './types.js';

export interface Sighting {
  host: string;
  text: string;
  analysis: TextAnalysis;
  first: string;
  last: string;
  evidence: EvidenceKeeper;
  /** Logged by the WinRM plug-in host or a direct child of it. */
  direct: boolean;
  /** Process IDs of the logging events, to test against processes started by the plug-in host. */
  pids: Set<number>;
  users: Set<string>;
}

const MAX_TEXT = 64 * 1024;
const MAX_SIGHTINGS = 20_000;
/** Text held by sightings in all: a hostile log full of distinct huge script blocks stays bounded. */
const MAX_SIGHTING_CHARS = 32 * 1024 * 1024;
const MAX_CACHE = 20_000;
/** Longer texts are cached under their hash, so the cache does not hold the text itself. */
const CACHE_BY_HASH = 256;

/** Every piece of command text an event carries. */
export function commandTexts(e: NormalizedEvent): string[] {
  const out: string[] = [];
  const add = (s: string | undefined): void => { if (s && s.trim() && !out.includes(s)) out.push(s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) : s); };
  add(e.process?.command_line);
  add(e.powershell?.command?.value);
  add(e.powershell?.file?.script_block_text);
  add(e.powershell?.host?.application);
  // 4103 parameter bindings: ConvertTo-SecureString's -String and -AsPlainText arrive as separate records.
  const inv = e.powershell?.command?.invocation_details;
  if (inv && inv.length > 0) {
    const name = e.powershell?.command?.name ?? inv[0].related_command ?? '';
    add(`${name} ${inv.map((d) => (d.name ? `-${d.name} ${/^[\w.\\:-]*$/.test(d.value) ? d.value : `'${d.value.replace(/'/g, "''")}'`}` : d.value)).join(' ')}`);
  }
  return out;
}

export class Sightings {
  private readonly byKey = new Map<string, Sighting>();
  private readonly cache = new Map<string, TextAnalysis | null>();
  private chars = 0;
  /** Sightings not kept because a cap was reached. */
  overflow = 0;

  private analyze(text: string): TextAnalysis | null {
    const key = text.length > CACHE_BY_HASH ? createHash('sha1').update(text).digest('base64') : text;
    let a = this.cache.get(key);
    if (a === undefined) {
      const r = analyzeText(text);
      a = r.hits.length > 0 || r.secrets.length > 0 ? r : null;
      if (this.cache.size >= MAX_CACHE) this.cache.clear();
      this.cache.set(key, a);
    }
    return a;
  }

  /** Events with command text: observe() ignores everything else. */
  static wants(e: NormalizedEvent): boolean {
    return commandTexts(e).length > 0;
  }

  observe(e: NormalizedEvent): void {
    const texts = commandTexts(e);
    if (texts.length === 0) return;
    for (const text of texts) {
      const a = this.analyze(text);
      if (!a) continue;
      const key = `${e.host.name}\u0000${text}`;
      let s = this.byKey.get(key);
      if (!s) {
        if (this.byKey.size >= MAX_SIGHTINGS || this.chars + text.length > MAX_SIGHTING_CHARS) { this.overflow++; continue; }
        this.chars += text.length;
        s = { host: e.host.name, text, analysis: a, first: e['@timestamp'], last: e['@timestamp'], evidence: new EvidenceKeeper(), direct: false, pids: new Set(), users: new Set() };
        this.byKey.set(key, s);
      }
      const t = e['@timestamp'];
      if (t < s.first) s.first = t;
      if (t > s.last) s.last = t;
      s.evidence.add(evidenceOf(e));
      if (directlyRemote(e)) s.direct = true;
      const pid = e.process?.pid ?? e.winlog.process?.pid;
      if (pid !== undefined && s.pids.size < 1024) s.pids.add(pid);
      const user = e.user?.name ? (e.user.domain ? `${e.user.domain}\\${e.user.name}` : e.user.name) : e.powershell?.connected_user ?? e.powershell?.user;
      if (user && s.users.size < 16) s.users.add(user);
    }
  }

  all(): Sighting[] {
    return [...this.byKey.values()].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : a.host.localeCompare(b.host) || a.text.localeCompare(b.text)));
  }
}
