// The finding record (findings.ndjson) and the small helpers every rule shares: severities, stable IDs,
// evidence taken from a normalized event's provenance.
import { createHash } from 'node:crypto';
import type { NormalizedEvent } from '../../schemas/event.js';
import type { EvidenceRef } from './session-shape.js';
import { evidenceOf as sessionEvidenceOf } from '../halves.js';

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export function isSeverity(s: string): s is Severity {
  return (SEVERITIES as readonly string[]).includes(s);
}

export type FindingCategory = 'lateral-movement' | 'credential-exposure' | 'execution' | 'defense-evasion' | 'posture' | 'credential-access';

export interface FindingHop {
  source: string;
  destination: string;
  user?: string;
  time: string;
  session_id?: string;
}

export interface Finding {
  /** Stable across runs: a hash of the rule and what the finding is about, never of file paths. */
  finding_id: string;
  rule: string;
  title: string;
  severity: Severity;
  category: FindingCategory;
  /** MITRE ATT&CK technique IDs. */
  attack: string[];
  /** Plain words; never carries a secret (masked) and is bounded in size. */
  summary: string;
  /** First and last time of the evidence. */
  start: string;
  end: string;
  hosts: string[];
  session_ids: string[];
  hops: FindingHop[];
  evidence: EvidenceRef[];
  /** Evidence records beyond the cap, counted but not listed. */
  evidence_dropped?: number;
  /** Decoded payload (bounded), for encoded-command findings. */
  decoded?: string;
}

/** Evidence listed per finding; the rest is counted in evidence_dropped. */
export const MAX_EVIDENCE = 100;

export function stableId(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}

/** A record as evidence: the session builder's reference, without the session side. */
export function evidenceOf(e: NormalizedEvent): EvidenceRef {
  const { side: _side, ...ref } = sessionEvidenceOf(e, 'destination');
  return ref.kafka ? { ...ref, kafka: { ...ref.kafka } } : ref;
}

/** The identity of a record that does not depend on where the file was read from. */
export function recordKey(e: EvidenceRef): string {
  return `${e.host}|${e.channel.toLowerCase()}|${e.event_id}|${e.record_id ?? ''}|${e.time}`;
}

/** Sorted, de-duplicated, capped evidence, plus how many were dropped. */
export function tidyEvidence(list: Iterable<EvidenceRef>): { evidence: EvidenceRef[]; dropped: number } {
  const seen = new Map<string, EvidenceRef>();
  for (const e of list) if (!seen.has(recordKey(e))) seen.set(recordKey(e), e);
  const all = [...seen.values()].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : recordKey(a).localeCompare(recordKey(b))));
  return { evidence: all.slice(0, MAX_EVIDENCE), dropped: Math.max(0, all.length - MAX_EVIDENCE) };
}

export interface FindingDraft {
  rule: string;
  /** What makes this finding distinct within its rule (session IDs, host + record, text hash). */
  key: string;
  title: string;
  severity: Severity;
  category: FindingCategory;
  attack: string[];
  summary: string;
  hosts: Iterable<string>;
  session_ids?: Iterable<string>;
  hops?: FindingHop[];
  evidence: Iterable<EvidenceRef>;
  /** Records already left out upstream (beyond a keeper's cap). */
  dropped?: number;
  decoded?: string;
  /** Used when there is no evidence to take times from. */
  start?: string;
  end?: string;
}

export function makeFinding(d: FindingDraft): Finding {
  const { evidence, dropped } = tidyEvidence(d.evidence);
  const times = evidence.map((e) => e.time);
  const f: Finding = {
    finding_id: stableId(d.rule, d.key),
    rule: d.rule,
    title: d.title,
    severity: d.severity,
    category: d.category,
    attack: [...new Set(d.attack)].sort(),
    summary: d.summary,
    start: d.start ?? times[0] ?? '',
    end: d.end ?? times[times.length - 1] ?? d.start ?? '',
    hosts: [...new Set(d.hosts)].filter((h) => h).sort(),
    session_ids: [...new Set(d.session_ids ?? [])].sort(),
    hops: d.hops ?? [],
    evidence,
  };
  if (dropped + (d.dropped ?? 0) > 0) f.evidence_dropped = dropped + (d.dropped ?? 0);
  if (d.decoded !== undefined) f.decoded = d.decoded;
  return f;
}

/** Cuts text for a summary, marking the cut. */
export function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}... [${s.length - max} more characters]`;
}

const evidenceOrder = (a: EvidenceRef, b: EvidenceRef): number => (a.time < b.time ? -1 : a.time > b.time ? 1 : recordKey(a).localeCompare(recordKey(b)));

/** Keeps the earliest records (by time, then record identity) whatever order they arrive in, and counts
 * the rest: findings must not depend on the order files were read. */
export class EvidenceKeeper {
  private list: EvidenceRef[] = [];
  private total = 0;
  constructor(private readonly max = MAX_EVIDENCE) {}

  add(e: EvidenceRef): void {
    this.total++;
    this.list.push(e);
    if (this.list.length >= 2 * this.max) this.list = this.list.sort(evidenceOrder).slice(0, this.max);
  }

  addAll(list: Iterable<EvidenceRef>): void {
    for (const e of list) this.add(e);
  }

  get kept(): EvidenceRef[] {
    this.list = this.list.sort(evidenceOrder).slice(0, this.max);
    return this.list;
  }

  get dropped(): number {
    return Math.max(0, this.total - this.kept.length);
  }
}
