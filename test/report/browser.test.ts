// The hostile report opened in a real headless Chromium (Debian's `chromium` at /usr/bin/chromium; CI
// installs it with apt). Proves that the payloads planted in host names, users and command lines execute
// nothing: the dumped DOM keeps our title, holds no element a payload would add, and shows the payloads as
// text; also with the CSP stripped, so the escaping alone is what is tested. Takes a screenshot and checks
// it is a real PNG of the requested size. Without the browser: skipped with the reason, or failed under CI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CSP, esc, renderReport } from '../../dashboards/report/index.js';
import { hostileReport, TITLE } from './hostile.js';

const CHROMIUM = process.env.HOPTRAIL_CHROMIUM ?? '/usr/bin/chromium';
const HAVE = existsSync(CHROMIUM);
if (!HAVE && process.env.CI) {
  test('chromium is installed (CI)', () => assert.fail(`${CHROMIUM} not found: CI must install Debian's chromium (apt-get install -y chromium)`));
}
const SKIP: string | false = HAVE ? false : `${CHROMIUM} not found (apt-get install -y chromium); CI fails instead of skipping`;

const W = 1200, H = 1800;

function chromium(dir: string, args: string[]): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(CHROMIUM, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--no-default-browser-check',
    '--disable-extensions', '--disable-sync', '--mute-audio', '--host-resolver-rules=MAP * ~NOTFOUND', `--user-data-dir=${join(dir, 'profile')}`,
    `--window-size=${W},${H}`, '--virtual-time-budget=2000', ...args,
  ], { encoding: 'utf8', timeout: 45_000, maxBuffer: 64 * 1024 * 1024 });
  return { stdout: r.stdout ?? '', stderr: r.stderr ?? '', status: r.status };
}

function checkDom(dom: string, label: string): void {
  assert.ok(dom.length > 1000, `${label}: DOM dumped (${dom.length} bytes)`);
  assert.ok(!/<title>[^<]*PWNED/.test(dom), `${label}: title unchanged`);
  assert.match(dom, new RegExp(`<title>${TITLE}</title>`), `${label}: our title`);
  assert.ok(!/<div id="?pwned"?>/i.test(dom), `${label}: no element added by a payload`);
  assert.ok(!/<script/i.test(dom), `${label}: no script element in the DOM`);
  assert.ok(!/<(?:img|iframe|textarea)\b/i.test(dom), `${label}: no element from data`);
  for (const t of dom.match(/<[a-zA-Z][^>]*>/g) ?? []) assert.ok(!/\son[a-z]+\s*=/i.test(t) && !/javascript:/i.test(t), `${label}: ${t}`);
  // The payloads are there, as text (serialized with < escaped).
  assert.ok(dom.includes(`&lt;script&gt;document.title='PWNED-SCRIPT'`), `${label}: script payload shown as text`);
  assert.ok(dom.includes(`&lt;/textarea&gt;&lt;script&gt;`), `${label}: textarea payload shown as text`);
  assert.ok(dom.includes(`"&gt;&lt;img src=x onerror="document.title='PWNED-IMG'`), `${label}: img payload shown as text`);
  assert.ok(dom.includes(`javascript:document.title='PWNED-JS'`), `${label}: javascript: payload shown as text`);
}

test('headless Chromium: hostile report executes nothing, screenshot taken', { skip: SKIP, timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoptrail-report-'));
  try {
    const html = renderReport(hostileReport());
    const page = join(dir, 'report.html');
    writeFileSync(page, html);
    // Same page without its CSP: escaping alone must hold.
    const bare = join(dir, 'report-no-csp.html');
    const stripped = html.replace(`<meta http-equiv="Content-Security-Policy" content="${esc(CSP)}">`, '');
    assert.notEqual(stripped, html);
    writeFileSync(bare, stripped);

    for (const [file, label] of [[page, 'with CSP'], [bare, 'without CSP']] as const) {
      const r = chromium(dir, ['--dump-dom', pathToFileURL(file).href]);
      assert.equal(r.status, 0, `${label}: chromium exit ${r.status}: ${r.stderr.slice(-500)}`);
      checkDom(r.stdout, label);
    }

    const png = join(dir, 'report.png');
    const r = chromium(dir, [`--screenshot=${png}`, pathToFileURL(bare).href]);
    assert.equal(r.status, 0, `chromium exit ${r.status}: ${r.stderr.slice(-500)}`);
    assert.ok(existsSync(png), 'screenshot written');
    const buf = readFileSync(png);
    assert.ok(statSync(png).size > 20_000, `screenshot is not trivial (${buf.length} bytes)`);
    assert.deepEqual([...buf.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
    assert.equal(buf.readUInt32BE(16), W, 'PNG width');
    assert.equal(buf.readUInt32BE(20), H, 'PNG height');
    // Not a blank page: many distinct byte values in the compressed image data.
    assert.ok(new Set(buf.subarray(100, 20_100)).size > 200, 'screenshot has content');
    if (process.env.HOPTRAIL_KEEP_SCREENSHOT) writeFileSync(process.env.HOPTRAIL_KEEP_SCREENSHOT, buf);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
