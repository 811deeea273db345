// Event logs cleared (Security 1102, System 104) on a host near one of its remoting sessions: covering
// tracks after lateral movement.
import type { NormalizedEvent } from '../../schemas/event.js';
import { shortHost } from './hosts.js';
import type { EvidenceRef, SessionLike } from './session-shape.js';
import { evidenceOf, type FindingDraft } from './types.js';

interface Clear { host: string; time: number; user?: string; channel: string; ev: EvidenceRef }

export class LogClears {
  private readonly clears: Clear[] = [];

  /** Security 1102 or System 104 (the event log cleared): observe() ignores everything else. */
  static wants(e: NormalizedEvent): boolean {
    const id = e.winlog.event_id, ch = e.winlog.channel.toLowerCase();
    return (ch === 'security' && id === 1102) || (ch === 'system' && id === 104 && /eventlog/i.test(e.winlog.provider_name));
  }

  observe(e: NormalizedEvent): void {
    if (!LogClears.wants(e) || this.clears.length >= 10_000) return;
    const id = e.winlog.event_id;
    const d = e.winlog.user_data ?? e.winlog.event_data ?? {};
    const user = e.user?.name ? `${e.user.domain ? e.user.domain + '\\' : ''}${e.user.name}` : undefined;
    this.clears.push({ host: e.host.name, time: Date.parse(e['@timestamp']), user, channel: id === 104 ? (d.Channel ?? 'a log') : 'Security', ev: evidenceOf(e) });
  }

  drafts(sessions: readonly SessionLike[], windowS: number): FindingDraft[] {
    const out: FindingDraft[] = [];
    for (const c of this.clears) {
      const near = sessions.filter((s) => {
        const onHost = shortHost(s.destination.host) === shortHost(c.host) || shortHost(s.source.host) === shortHost(c.host);
        return onHost && c.time >= Date.parse(s.start) - windowS * 1000 && c.time <= Date.parse(s.end) + windowS * 1000;
      });
      if (near.length === 0) continue;
      out.push({
        rule: 'logs.cleared', key: `${c.host}|${c.ev.channel}|${c.ev.record_id ?? ''}|${c.ev.time}`,
        title: `${c.channel} log cleared on ${c.host} near a remoting session`, severity: 'high', category: 'defense-evasion', attack: ['T1070.001'],
        summary: `The ${c.channel} event log on ${c.host} was cleared${c.user ? ` by ${c.user}` : ''} at ${c.ev.time}, within ${windowS} s of ${near.length} remoting session(s) involving this host: records of the session may be gone.`,
        hosts: [c.host], session_ids: near.map((s) => s.session_id), evidence: [c.ev, ...near.flatMap((s) => s.evidence.filter((x) => shortHost(x.host) === shortHost(c.host)).slice(0, 5))],
      });
    }
    return out;
  }
}
