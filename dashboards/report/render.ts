// report.html: one self-contained page an investigator can open offline and hand over. Summary, the
// lateral-movement graph, findings with their evidence, and each session's timeline. No script at all, a
// strict Content-Security-Policy, no external resource; every piece of evidence text goes through esc().
import { maskSecrets } from '../../detectors/findings/secrets.js';
import type { EvidenceRef, HopLike, SessionLike } from '../../detectors/findings/session-shape.js';
import { SEVERITIES, type Finding } from '../../detectors/findings/types.js';
import { esc, escClip } from './escape.js';
import { renderGraph } from './graph.js';

export interface ReportData {
  /** Time the report was made (given, so that rendering stays pure). */
  generated: string;
  title?: string;
  /** Input paths as given on the command line. */
  inputs?: readonly string[];
  sessions: readonly SessionLike[];
  hops: readonly HopLike[];
  findings: readonly Finding[];
  /** Every host seen in the evidence, when the caller knows them; else taken from sessions and findings. */
  hosts?: readonly string[];
  events?: number;
}

export const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/** Limits that keep a report of a large hunt openable. */
const MAX_COMMANDS_PER_SESSION = 500;
const MAX_COMMAND_CHARS = 4000;
const MAX_EVIDENCE_ROWS = 100;

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header{background:#1f4e8c;color:#fff;padding:16px 24px}header h1{margin:0;font-size:22px}
main{padding:8px 24px 40px;max-width:1200px}
p,td,div{overflow-wrap:anywhere}
h2{border-bottom:2px solid #1f4e8c;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;width:100%;margin:8px 0}th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#eef2f7}td.num{text-align:right}
pre,code{font:12px/1.4 ui-monospace,Consolas,monospace;white-space:pre-wrap;word-break:break-all;margin:0}
.sev{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;font-size:12px;color:#fff}
.sev-critical{background:#7b1fa2}.sev-high{background:#c62828}.sev-medium{background:#ef6c00}.sev-low{background:#1565c0}.sev-info{background:#607d8b}
.finding,.session{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px 14px;margin:12px 0}
.muted{color:#666}.cut{color:#b3261e;font-style:italic}
.elabel{font:11px sans-serif;fill:#5d1a16;paint-order:stroke;stroke:#fafafa;stroke-width:4px;stroke-linejoin:round}.nlabel{font:13px sans-serif;font-weight:600;fill:#1f2d3d}
.grid{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px}
`;

const sevBadge = (s: string): string => `<span class="sev sev-${SEVERITIES.includes(s as never) ? s : 'info'}">${esc(s)}</span>`;

function where(e: EvidenceRef): string {
  if (e.kafka) return `${e.kafka.topic}/${e.kafka.partition}/${e.kafka.offset}`;
  const file = e.file ? (e.entry ? `${e.file} ! ${e.entry}` : e.file) : '';
  const pos = e.line !== undefined ? ` line ${e.line}` : e.offset !== undefined ? ` offset ${e.offset}` : '';
  return `${file}${pos}`;
}

function evidenceTable(list: readonly EvidenceRef[], dropped = 0): string {
  if (list.length === 0) return '<p class="muted">No record evidence.</p>';
  const rows = list.slice(0, MAX_EVIDENCE_ROWS).map((e) =>
    `<tr><td>${esc(e.time)}</td><td>${esc(e.host)}</td><td>${esc(e.channel)}</td><td class="num">${esc(e.event_id)}</td><td class="num">${esc(e.record_id ?? '')}</td><td>${esc(e.side ?? '')}</td><td><code>${esc(where(e))}</code></td></tr>`);
  const more = list.length - Math.min(list.length, MAX_EVIDENCE_ROWS) + dropped;
  return `<table><thead><tr><th>Time (UTC)</th><th>Host</th><th>Channel</th><th>Event</th><th>Record</th><th>Side</th><th>Where</th></tr></thead><tbody>${rows.join('')}</tbody></table>${more > 0 ? `<p class="muted">${more} more record(s) not listed.</p>` : ''}`;
}

function userOf(s: SessionLike): string {
  return s.user.name ? (s.user.domain ? `${s.user.domain}\\${s.user.name}` : s.user.name) : s.source.user ?? 'unknown';
}

function summary(d: ReportData): string {
  const hosts = [...new Set([...(d.hosts ?? []), ...d.sessions.flatMap((s) => [s.source.host, s.destination.host]), ...d.findings.flatMap((f) => f.hosts)].filter((h): h is string => !!h).map((h) => h.toLowerCase()))].sort();
  const times = [...d.sessions.flatMap((s) => [s.start, s.end]), ...d.findings.flatMap((f) => [f.start, f.end])].filter((t) => t).sort();
  const paired = d.sessions.filter((s) => s.paired).length;
  const bySev = [...SEVERITIES].reverse().map((s) => `<tr><td>${sevBadge(s)}</td><td class="num">${d.findings.filter((f) => f.severity === s).length}</td></tr>`).join('');
  return `<section><h2>Summary</h2><div class="grid">
<div>Hosts</div><div>${hosts.length}: ${hosts.map((h) => esc(h)).join(', ') || '<span class="muted">none</span>'}</div>
<div>Time span</div><div>${times.length > 0 ? `${esc(times[0])} to ${esc(times[times.length - 1])}` : '<span class="muted">no activity</span>'}</div>
<div>Sessions</div><div>${d.sessions.length} (${paired} paired, ${d.sessions.length - paired} half-sessions); ${d.hops.length} hop(s)</div>
${d.events !== undefined ? `<div>Events read</div><div>${esc(d.events)}</div>` : ''}
${d.inputs && d.inputs.length > 0 ? `<div>Inputs</div><div>${d.inputs.map((i) => `<code>${esc(i)}</code>`).join('<br>')}</div>` : ''}
</div><h3>Findings by severity</h3><table style="width:auto"><tbody>${bySev}</tbody></table></section>`;
}

function findingsSection(d: ReportData): string {
  if (d.findings.length === 0) return '<section><h2>Findings</h2><p class="muted">No finding.</p></section>';
  const items = d.findings.map((f, i) => `<article class="finding" id="finding-${i + 1}">
<h3>${sevBadge(f.severity)} ${esc(f.title)}</h3>
<div class="grid"><div>Rule</div><div><code>${esc(f.rule)}</code> (${esc(f.category)})</div>
<div>ATT&amp;CK</div><div>${f.attack.map((a) => esc(a)).join(', ')}</div>
<div>When</div><div>${esc(f.start)}${f.end && f.end !== f.start ? ` to ${esc(f.end)}` : ''}</div>
<div>Hosts</div><div>${f.hosts.map((h) => esc(h)).join(', ')}</div>
${f.session_ids.length > 0 ? `<div>Sessions</div><div>${f.session_ids.map((s) => `<code>${esc(s)}</code>`).join(', ')}</div>` : ''}
${f.hops.length > 0 ? `<div>Hops</div><div>${f.hops.map((h) => `${esc(h.source)} &#8594; ${esc(h.destination)} as ${esc(h.user ?? 'unknown')} at ${esc(h.time)}`).join('<br>')}</div>` : ''}
<div>Finding ID</div><div><code>${esc(f.finding_id)}</code></div></div>
<p>${escClip(maskSecrets(f.summary), 6000)}</p>
${f.decoded ? `<details><summary>Decoded payload</summary><pre>${escClip(maskSecrets(f.decoded), 65536)}</pre></details>` : ''}
<details><summary>Evidence (${f.evidence.length + (f.evidence_dropped ?? 0)} record(s))</summary>${evidenceTable(f.evidence, f.evidence_dropped ?? 0)}</details>
</article>`);
  return `<section><h2>Findings (${d.findings.length})</h2>${items.join('\n')}</section>`;
}

function sessionsSection(d: ReportData): string {
  if (d.sessions.length === 0) return '<section><h2>Sessions</h2><p class="muted">No remoting session.</p></section>';
  const sorted = [...d.sessions].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.session_id.localeCompare(b.session_id)));
  const items = sorted.map((s) => {
    const cmds = [...s.commands].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    const rows = cmds.slice(0, MAX_COMMANDS_PER_SESSION).map((c) =>
      `<tr><td>${esc(c.time)}</td><td>${esc(c.host)}</td><td>${esc(c.side)}</td><td>${esc(c.type)}${c.partial ? ' (partial)' : ''}</td><td><pre>${escClip(maskSecrets(c.text), MAX_COMMAND_CHARS)}</pre></td></tr>`);
    const more = cmds.length > MAX_COMMANDS_PER_SESSION ? `<p class="muted">${cmds.length - MAX_COMMANDS_PER_SESSION} more command(s) not shown.</p>` : '';
    return `<article class="session"><h3>${esc(s.kind)}: ${esc(s.source.host ?? s.source.ip ?? '?')} &#8594; ${esc(s.destination.host ?? s.destination.ip ?? '?')}</h3>
<div class="grid"><div>User</div><div>${esc(userOf(s))}</div>
<div>Authentication</div><div>${esc(s.auth ?? 'unknown')}</div>
<div>Time</div><div>${esc(s.start)} to ${esc(s.end)}</div>
<div>Paired</div><div>${s.paired ? 'yes, both ends seen' : `no: ${esc(s.unpaired_reason ?? 'one end only')}`} (confidence ${esc(s.confidence.toFixed(2))})</div>
<div>Addresses</div><div>${esc(s.source.ip ?? '?')} &#8594; ${esc(s.destination.ip ?? '?')}</div>
<div>Session ID</div><div><code>${esc(s.session_id)}</code></div></div>
<h4>Timeline (${cmds.length} command(s))</h4>${rows.length > 0 ? `<table><thead><tr><th>Time (UTC)</th><th>Host</th><th>Side</th><th>Type</th><th>Command</th></tr></thead><tbody>${rows.join('')}</tbody></table>${more}` : '<p class="muted">No command text was logged.</p>'}
<details><summary>Evidence (${s.evidence.length} record(s))</summary>${evidenceTable(s.evidence)}</details></article>`;
  });
  return `<section><h2>Sessions (${d.sessions.length})</h2>${items.join('\n')}</section>`;
}

/** The whole report as one HTML string. */
export function renderReport(d: ReportData): string {
  const title = d.title ?? 'hoptrail report';
  const graph = renderGraph(d.hops.map((h) => ({ source: h.source, destination: h.destination, user: h.user, time: h.time })));
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(CSP)}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}</style></head>
<body><header><h1>${esc(title)}</h1><div>Generated ${esc(d.generated)} by hoptrail. Secrets found in command text are masked.</div></header>
<main>
${summary(d)}
<section><h2>Lateral movement</h2>${graph}</section>
${findingsSection(d)}
${sessionsSection(d)}
</main></body></html>
`;
}
