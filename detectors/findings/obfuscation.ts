// Encoded or obfuscated commands, download cradles, and AMSI / logging bypasses in remote sessions, with the
// encoded payload decoded into the finding (bounded, secrets masked).
import { createHash } from 'node:crypto';
import { contextOf, groupKey } from './command-context.js';
import type { RemoteProcesses } from './scope.js';
import { maskSecrets } from './secrets.js';
import type { EvidenceRef, SessionLike } from './session-shape.js';
import type { Sighting } from './sightings.js';
import { clip, type FindingCategory, type FindingDraft, type Severity } from './types.js';

const RULES: Record<string, { title: string; severity: Severity; category: FindingCategory; attack: string[]; explain: string }> = {
  'command.encoded': { title: 'Encoded or obfuscated PowerShell', severity: 'high', category: 'defense-evasion', attack: ['T1027', 'T1059.001', 'T1140'], explain: 'The command hides its text from a quick read (an encoded or obfuscated payload), as stagers do.' },
  'command.download-cradle': { title: 'Download cradle', severity: 'high', category: 'execution', attack: ['T1105', 'T1059.001'], explain: 'The command fetches code or data from the network, the usual first step of a stager.' },
  'command.amsi-bypass': { title: 'AMSI bypass', severity: 'critical', category: 'defense-evasion', attack: ['T1562.001'], explain: 'The command disables the Antimalware Scan Interface so that later scripts are not scanned.' },
  'command.logging-bypass': { title: 'PowerShell logging bypass', severity: 'critical', category: 'defense-evasion', attack: ['T1562.002'], explain: 'The command turns PowerShell logging off (script-block logging disabled, or a PowerShell 2.0 downgrade), so that what follows leaves no script text.' },
};

export function obfuscationDrafts(sightings: readonly Sighting[], sessions: readonly SessionLike[], procs: RemoteProcesses, anyScope: boolean, decodedMax: number): FindingDraft[] {
  const groups = new Map<string, { draft: FindingDraft; whys: Set<string>; texts: string[]; decoded: string[] }>();
  for (const s of sightings) {
    const hits = s.analysis.hits.filter((h) => RULES[h.rule] !== undefined);
    if (hits.length === 0) continue;
    const ctx = contextOf(s, sessions, procs);
    if (!ctx.remote && !anyScope) continue;
    const th = createHash('sha256').update(s.text).digest('hex').slice(0, 16);
    for (const hit of hits) {
      const r = RULES[hit.rule];
      const key = `${hit.rule}|${groupKey(s, ctx, th)}`;
      let g = groups.get(key);
      if (!g) {
        g = {
          whys: new Set(), texts: [], decoded: [],
          draft: { rule: hit.rule, key: groupKey(s, ctx, th), title: `${r.title} on ${s.host}`, severity: r.severity, category: r.category, attack: r.attack, summary: '', hosts: [s.host], session_ids: ctx.sessions.map((x) => x.session_id), evidence: [] },
        };
        groups.set(key, g);
      }
      g.whys.add(hit.why);
      const shown = clip(maskSecrets(s.text).replace(/\s+/g, ' '), 160);
      if (!g.texts.includes(shown) && g.texts.length < 3) g.texts.push(shown);
      for (const d of s.analysis.decoded?.texts ?? []) {
        const m = maskSecrets(d);
        if (!g.decoded.includes(m) && g.decoded.length < 4) g.decoded.push(m);
      }
      (g.draft.evidence as EvidenceRef[]).push(...s.evidence.kept);
      g.draft.dropped = (g.draft.dropped ?? 0) + s.evidence.dropped;
    }
  }
  return [...groups.values()].map((g) => {
    const r = RULES[g.draft.rule];
    const decoded = g.decoded.length > 0 ? clip(g.decoded.join('\n---\n'), decodedMax) : undefined;
    const where = (g.draft.session_ids ? [...g.draft.session_ids] : []).length > 0 ? ' in a remote session' : '';
    const summary = `${r.explain} Seen${where} on ${[...g.draft.hosts][0]}: ${[...g.whys].slice(0, 4).join('; ')}. Command: ${g.texts.join(' | ')}${decoded ? ` Decoded: ${clip(decoded.replace(/\s+/g, ' '), 600)}` : ''}`;
    const d: FindingDraft = { ...g.draft, summary };
    if (decoded !== undefined) d.decoded = decoded;
    return d;
  });
}
