// The session and hop records hoptrail writes (sessions.ndjson, hops.ndjson). zod is the single source of
// the types, as for the normalized event.
import { z } from 'zod';

export const SessionKind = z.enum(['psremoting', 'winrs', 'wsman-wmi', 'winrm-unknown']);
export type SessionKind = z.infer<typeof SessionKind>;

/** One record behind a finding: file and record ID, or Kafka coordinates. */
export const Evidence = z.strictObject({
  host: z.string(),
  channel: z.string(),
  event_id: z.number().int(),
  time: z.string(),
  record_id: z.number().int().optional(),
  file: z.string().optional(),
  entry: z.string().optional(),
  line: z.number().int().optional(),
  offset: z.number().int().optional(),
  kafka: z.strictObject({ topic: z.string(), partition: z.number().int(), offset: z.number().int() }).optional(),
  /** Which half of the session the record belongs to. */
  side: z.enum(['source', 'destination', 'dc']),
});
export type Evidence = z.infer<typeof Evidence>;

export const Command = z.strictObject({
  time: z.string(),
  host: z.string(),
  side: z.enum(['source', 'destination']),
  /** script: 4104 / 800 script text; pipeline: 4103/800 command; process: a child process command line. */
  type: z.enum(['script', 'pipeline', 'process']),
  text: z.string(),
  /** A 4104 script block whose parts did not all arrive. */
  partial: z.boolean().optional(),
});
export type Command = z.infer<typeof Command>;

export const Session = z.strictObject({
  session_id: z.string(),
  kind: SessionKind,
  paired: z.boolean(),
  source: z.strictObject({ host: z.string().optional(), ip: z.string().optional(), user: z.string().optional() }),
  destination: z.strictObject({ host: z.string().optional(), ip: z.string().optional() }),
  /** `id`: the account SID when no name was logged (WinRM 91 runs as the connecting user). */
  user: z.strictObject({ name: z.string().optional(), domain: z.string().optional(), id: z.string().optional() }),
  auth: z.enum(['Kerberos', 'NTLM', 'Negotiate', 'Basic', 'CredSSP']).optional(),
  logon_id: z.string().optional(),
  start: z.string(),
  end: z.string(),
  commands: z.array(Command),
  /** 0..1: how sure the pairing (or, for a half-session, the remoting verdict) is. */
  confidence: z.number().min(0).max(1),
  evidence: z.array(Evidence),
  unpaired_reason: z.string().optional(),
});
export type Session = z.infer<typeof Session>;

export const Hop = z.strictObject({
  type: z.literal('hop'),
  source: z.string(),
  destination: z.string(),
  user: z.string().optional(),
  time: z.string(),
  session_id: z.string(),
});
export type Hop = z.infer<typeof Hop>;

/** A destination that later opened a session of its own: A->B->C. */
export const Chain = z.strictObject({
  type: z.literal('chain'),
  hosts: z.array(z.string()),
  users: z.array(z.string()),
  start: z.string(),
  end: z.string(),
  session_ids: z.array(z.string()),
});
export type Chain = z.infer<typeof Chain>;

/** One source to three or more destinations within the fan-out window. */
export const FanOut = z.strictObject({
  type: z.literal('fanout'),
  source: z.string(),
  destinations: z.array(z.string()),
  start: z.string(),
  end: z.string(),
  session_ids: z.array(z.string()),
});
export type FanOut = z.infer<typeof FanOut>;

export type HuntOutput =
  | { kind: 'session'; session: Session }
  | { kind: 'hop'; hop: Hop }
  | { kind: 'chain'; chain: Chain }
  | { kind: 'fanout'; fanout: FanOut };
