// A report whose every attacker-controlled field (host names, users, command lines, script text, decoded
// payloads, evidence file names) carries markup and script payloads. Each payload, if it ever ran, would
// change document.title or add an element with id "pwned"; the tests look for exactly that.
import type { Finding } from '../../detectors/findings/index.js';
import type { HopLike, SessionLike } from '../../detectors/findings/session-shape.js';
import type { ReportData } from '../../dashboards/report/index.js';

export const PAYLOADS = [
  `<script>document.title='PWNED-SCRIPT';document.body.insertAdjacentHTML('beforeend','<div id="pwned">1</div>')</script>`,
  `</textarea><script>document.title='PWNED-TEXTAREA'</script><textarea>`,
  `"><img src=x onerror="document.title='PWNED-IMG';document.body.insertAdjacentHTML('beforeend','<div id=pwned>2</div>')">`,
  `javascript:document.title='PWNED-JS'`,
  `'><svg onload="document.title='PWNED-SVG'"></svg>`,
  `</title><script>document.title='PWNED-TITLE'</script>`,
  `</style><script>document.title='PWNED-STYLE'</script>`,
  `]]><script>document.title='PWNED-CDATA'</script>`,
  `<a href="javascript:document.title='PWNED-HREF'">click</a>`,
  `<iframe srcdoc="<script>parent.document.title='PWNED-IFRAME'</script>"></iframe>`,
  `\u202Egnp.exe`,
];

export const TITLE = 'hoptrail hostile report';

export function hostileReport(): ReportData {
  const evil = (i: number) => PAYLOADS[i % PAYLOADS.length];
  const hostA = `ws1${PAYLOADS[0]}`, hostB = `srv${PAYLOADS[2]}.corp.local`, hostC = `${PAYLOADS[3]}`;
  const session = (id: string, src: string, dst: string, k: number): SessionLike => ({
    session_id: id, kind: 'psremoting', paired: true, source: { host: src, ip: evil(k + 1), user: evil(k + 2) }, destination: { host: dst, ip: evil(k + 3) },
    user: { name: evil(k + 4), domain: evil(k + 5) }, auth: evil(k + 6), start: '2024-03-01T10:00:00.000Z', end: '2024-03-01T10:05:00.000Z',
    commands: PAYLOADS.map((p, i) => ({ time: `2024-03-01T10:0${i % 10}:00.000Z`, host: dst, side: 'destination' as const, type: 'process' as const, text: `cmd.exe /c echo ${p}` })),
    confidence: 0.9, unpaired_reason: evil(k + 7),
    evidence: [{ host: evil(k), channel: evil(k + 8), event_id: 4688, time: '2024-03-01T10:00:00.000Z', record_id: 1, file: `C:\\logs\\${evil(k + 9)}.evtx`, line: 3, side: 'destination' }],
  });
  const sessions = [session('s1', hostA, hostB, 0), session('s2', hostB, hostC, 3)];
  const hops: HopLike[] = sessions.map((s) => ({ source: s.source.host ?? '', destination: s.destination.host ?? '', user: `${s.user.domain}\\${s.user.name}`, time: s.start, session_id: s.session_id }));
  const findings: Finding[] = PAYLOADS.map((p, i) => ({
    finding_id: `f${i}`, rule: `rule.${p}`, title: `Title ${p}`, severity: (['critical', 'high', 'medium', 'low', 'info'] as const)[i % 5], category: 'lateral-movement',
    attack: [p], summary: `Summary ${p} and ConvertTo-SecureString "TopSecret99" -AsPlainText`, start: '2024-03-01T10:00:00.000Z', end: p, hosts: [hostA, p],
    session_ids: [p], hops: [{ source: p, destination: hostB, user: p, time: p }], evidence: [...sessions[0].evidence], decoded: `decoded ${p}`,
  }));
  return { generated: '2024-03-02T00:00:00.000Z', title: TITLE, inputs: [PAYLOADS[1], PAYLOADS[8]], sessions, hops, findings, hosts: [hostA, hostB, hostC, ...PAYLOADS] };
}
