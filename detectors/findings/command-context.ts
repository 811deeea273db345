// Ties a command sighting to the remote sessions it belongs to, and says whether it is in scope for the
// command rules (in or around a remote session, unless the rules file widens the scope to every command).
import type { RemoteProcesses } from './scope.js';
import { sessionsAt } from './scope.js';
import type { SessionLike } from './session-shape.js';
import type { Sighting } from './sightings.js';

export interface SightingContext {
  remote: boolean;
  sessions: SessionLike[];
}

export function contextOf(s: Sighting, sessions: readonly SessionLike[], procs: RemoteProcesses): SightingContext {
  const around = sessionsAt(sessions, s.host, s.first, s.analysis.remoting);
  const inSessionText = sessions.filter((x) => x.commands.some((c) => c.text === s.text));
  const related = [...new Set([...around, ...inSessionText])];
  const remote = s.direct || s.analysis.remoting || [...s.pids].some((p) => procs.has(s.host, p)) || related.length > 0;
  return { remote, sessions: related };
}

/** A finding key for a command finding: per rule, host and session when there is one, else per text. */
export function groupKey(s: Sighting, ctx: SightingContext, textHash: string): string {
  return ctx.sessions.length > 0 ? `${s.host}|${ctx.sessions.map((x) => x.session_id).sort().join(',')}` : `${s.host}|${textHash}`;
}
