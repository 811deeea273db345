// Credentials written into command text: a literal password handed to ConvertTo-SecureString -AsPlainText
// or a PSCredential, or given to net user / net use / winrs / cmdkey. The secret never leaves this module
// unmasked.
import { createHash } from 'node:crypto';
import { contextOf, groupKey } from './command-context.js';
import type { RemoteProcesses } from './scope.js';
import { maskSecrets } from './secrets.js';
import type { EvidenceRef, SessionLike } from './session-shape.js';
import type { Sighting } from './sightings.js';
import { clip, type FindingDraft } from './types.js';

export function credentialDrafts(sightings: readonly Sighting[], sessions: readonly SessionLike[], procs: RemoteProcesses, anyScope: boolean): FindingDraft[] {
  const groups = new Map<string, { draft: FindingDraft; kinds: Set<string>; texts: string[]; ev: EvidenceRef[]; dropped: number }>();
  for (const s of sightings) {
    if (s.analysis.secrets.length === 0) continue;
    const ctx = contextOf(s, sessions, procs);
    if (!ctx.remote && !anyScope) continue;
    const h = createHash('sha256').update(s.text).digest('hex').slice(0, 16);
    const key = groupKey(s, ctx, h);
    let g = groups.get(key);
    if (!g) {
      g = {
        kinds: new Set(), texts: [], ev: [], dropped: 0,
        draft: {
          rule: 'credential.plaintext', key, title: '', severity: 'high', category: 'credential-exposure',
          attack: ['T1552'], summary: '', hosts: [s.host], session_ids: ctx.sessions.map((x) => x.session_id), evidence: [],
        },
      };
      groups.set(key, g);
    }
    for (const k of s.analysis.secrets) g.kinds.add(k.kind);
    if (s.analysis.secrets.some((k) => k.kind.startsWith('net user'))) g.draft.attack.push('T1136');
    const masked = clip(maskSecrets(s.text).replace(/\s+/g, ' '), 400);
    if (!g.texts.includes(masked)) g.texts.push(masked);
    g.ev.push(...s.evidence.kept);
    g.dropped += s.evidence.dropped;
  }
  return [...groups.values()].map((g) => {
    const host = [...g.draft.hosts][0];
    const kinds = [...g.kinds].sort();
    return {
      ...g.draft,
      title: `Plaintext credential in command text on ${host}`,
      summary: `A password was written in clear in a command on ${host} (${kinds.join('; ')}); anyone who can read these logs has it. The secret is masked here: ${g.texts.slice(0, 3).join(' | ')}${g.texts.length > 3 ? ` (and ${g.texts.length - 3} more)` : ''}. Rotate the credential.`,
      evidence: g.ev,
      dropped: g.dropped,
    };
  });
}
