// The least of a session, hop, chain and fan-out that the findings rules read. Structural on purpose: the
// records of detectors/session.ts (issue 4's "A session record, as JSON") are assignable to these, so the
// rules depend on the JSON shape, not on the session engine's module.

/** One record behind a session or a finding: file and record ID, or Kafka coordinates. */
export interface EvidenceRef {
  host: string;
  channel: string;
  event_id: number;
  time: string;
  record_id?: number;
  file?: string;
  entry?: string;
  line?: number;
  offset?: number;
  kafka?: { topic: string; partition: number; offset: number };
  side?: 'source' | 'destination' | 'dc';
}

export interface SessionCommand {
  time: string;
  host: string;
  side: 'source' | 'destination';
  type: 'script' | 'pipeline' | 'process';
  text: string;
  partial?: boolean;
}

export type SessionKindName = 'psremoting' | 'winrs' | 'wsman-wmi' | 'winrm-unknown';

export interface SessionLike {
  session_id: string;
  kind: SessionKindName;
  paired: boolean;
  source: { host?: string; ip?: string; user?: string };
  destination: { host?: string; ip?: string };
  user: { name?: string; domain?: string };
  auth?: string;
  logon_id?: string;
  start: string;
  end: string;
  commands: readonly SessionCommand[];
  confidence: number;
  evidence: readonly EvidenceRef[];
  unpaired_reason?: string;
}

export interface HopLike {
  source: string;
  destination: string;
  user?: string;
  time: string;
  session_id: string;
}

export interface ChainLike {
  hosts: readonly string[];
  users: readonly string[];
  start: string;
  end: string;
  session_ids: readonly string[];
}

export interface FanOutLike {
  source: string;
  destinations: readonly string[];
  start: string;
  end: string;
  session_ids: readonly string[];
}

/** `DOMAIN\name`, the name alone, or the source-side user, for display. */
export function sessionUser(s: SessionLike): string | undefined {
  if (s.user.name) return s.user.domain ? `${s.user.domain}\\${s.user.name}` : s.user.name;
  return s.source.user;
}
