// timeline.csv: one row per session event, for Timeline Explorer and spreadsheets. Cells a spreadsheet
// would run as a formula (leading = + - @, tab, CR) get a leading apostrophe.
import type { Session } from './session.js';

const COLUMNS = ['time', 'session_id', 'kind', 'paired', 'side', 'host', 'channel', 'event_id', 'record_id', 'source_host', 'destination_host', 'user', 'auth', 'file', 'detail'];

export function csvCell(v: string | number | boolean | undefined): string {
  let s = v === undefined ? '' : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function timelineHeader(): string {
  return COLUMNS.join(',') + '\r\n';
}

export function timelineRows(s: Session): string[] {
  const user = s.user.name ? (s.user.domain ? `${s.user.domain}\\${s.user.name}` : s.user.name) : '';
  // A command recorded by an evidence event is shown on that event's row.
  const byTime = new Map<string, string[]>();
  for (const c of s.commands) {
    const k = `${c.host}|${c.time}`;
    const l = byTime.get(k);
    if (l) l.push(c.text); else byTime.set(k, [c.text]);
  }
  const used = new Set<string>();
  return s.evidence.map((e) => {
    const k = `${e.host}|${e.time}`;
    let detail = '';
    if (!used.has(k) && byTime.has(k)) { detail = (byTime.get(k) ?? []).join(' | ').slice(0, 4000); used.add(k); }
    const cells = [e.time, s.session_id, s.kind, s.paired, e.side, e.host, e.channel, e.event_id, e.record_id, s.source.host, s.destination.host, user, s.auth, e.file ? (e.entry ? `${e.file}!${e.entry}` : e.file) : e.kafka ? `${e.kafka.topic}/${e.kafka.partition}/${e.kafka.offset}` : '', detail];
    return cells.map(csvCell).join(',') + '\r\n';
  });
}
