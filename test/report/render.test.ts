// The report as a string: self-contained, strict CSP, no script, every hostile field escaped, secrets
// masked, the graph drawn. The same hostile report is opened in a real browser by browser.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CSP, renderReport, renderGraph, esc } from '../../dashboards/report/index.js';
import { hostileReport, PAYLOADS, TITLE } from './hostile.js';

/** Every start tag in the page; data never yields one, since every < in data is escaped. */
const tags = (html: string): string[] => html.match(/<[a-zA-Z][^>]*>/g) ?? [];

test('esc escapes markup, quotes, backticks; neutralizes bidi overrides and control characters', () => {
  assert.equal(esc(`<a href="x" onclick='y'>\`&`), '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&#96;&amp;');
  assert.equal(esc('a\u202Eb\u0000c\td'), 'a\uFFFDb\uFFFDc\td');
  assert.equal(esc(undefined), '');
});

test('hostile report: no script, no handler, no javascript: URL, no external resource, strict CSP', () => {
  const html = renderReport(hostileReport());
  assert.ok(html.startsWith('<!DOCTYPE html>'));
  assert.ok(html.includes(`<meta http-equiv="Content-Security-Policy" content="${esc(CSP)}">`));
  assert.equal(CSP.split(';')[0], "default-src 'none'");
  assert.ok(!/<script/i.test(html), 'no script element at all');
  assert.ok(!/<(?:img|iframe|svg[^>]*onload|textarea|a )/i.test(html.replace(/<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" viewBox/g, '')), 'no element from data');
  for (const t of tags(html)) {
    assert.ok(!/\son[a-z]+\s*=/i.test(t), `no event handler attribute: ${t}`);
    assert.ok(!/javascript:/i.test(t), `no javascript: in a tag: ${t}`);
    assert.ok(!/\s(?:src|href)\s*=\s*["']?(?:https?:|\/\/)/i.test(t), `no external resource: ${t}`);
  }
  // Each payload is present as escaped text.
  for (const p of PAYLOADS) assert.ok(html.includes(esc(p).slice(0, 40)), p.slice(0, 30));
  assert.ok(!html.includes('TopSecret99'), 'secret masked in summaries');
  assert.ok(html.includes(`<title>${esc(TITLE)}</title>`));
});

test('summary counts, graph arrows with user and time, timelines', () => {
  const d = hostileReport();
  const html = renderReport(d);
  assert.match(html, /Sessions<\/div><div>2 \(2 paired, 0 half-sessions\); 2 hop\(s\)/);
  assert.equal((html.match(/marker-end="url\(#arrow\)"/g) ?? []).length, 2);
  const svg = renderGraph([{ source: 'a.corp', destination: 'b.corp', user: 'CORP\\bob', time: '2024-03-01T10:00:00.000Z' }, { source: 'a.corp', destination: 'b.corp', user: 'CORP\\eve', time: '2024-03-01T11:00:00.000Z' }]);
  assert.equal((svg.match(/<circle/g) ?? []).length, 2);
  assert.equal((svg.match(/marker-end=/g) ?? []).length, 2, 'two hops between the same pair, two arrows');
  assert.ok(svg.includes('CORP\\bob') && svg.includes('2024-03-01 11:00:00Z'));
  assert.match(renderGraph([]), /No hop/);
  assert.equal((html.match(/<article class="session">/g) ?? []).length, 2);
  assert.equal((html.match(/<article class="finding"/g) ?? []).length, PAYLOADS.length);
});

test('rendering is pure and bounded: same data, same bytes; huge commands are cut', () => {
  const d = hostileReport();
  assert.equal(renderReport(d), renderReport(d));
  const big = hostileReport();
  big.sessions = [{ ...big.sessions[0], commands: Array.from({ length: 800 }, (_, i) => ({ time: '2024-03-01T10:00:00.000Z', host: 'h', side: 'destination' as const, type: 'script' as const, text: 'A'.repeat(10_000) + i })) }];
  const html = renderReport(big);
  assert.ok(html.length < 5_000_000, `report stays bounded (${html.length})`);
  assert.match(html, /300 more command\(s\) not shown/);
  assert.match(html, /\[6001 more characters\]/);
});

test('graph layout: cycles end, hosts get distinct places, disconnected groups stacked', () => {
  const hop = (a: string, b: string, m: number) => ({ source: a, destination: b, user: 'u', time: `2024-03-01T10:${String(m).padStart(2, '0')}:00.000Z` });
  const svg = renderGraph([hop('a', 'b', 1), hop('b', 'c', 2), hop('c', 'a', 3), hop('x', 'y', 4), hop('a', 'b', 5)]);
  const circles = [...svg.matchAll(/<circle cx="([\d.-]+)" cy="([\d.-]+)"/g)].map((m) => `${m[1]},${m[2]}`);
  assert.equal(circles.length, 5);
  assert.equal(new Set(circles).size, 5, 'no two hosts on the same spot');
  assert.equal((svg.match(/marker-end=/g) ?? []).length, 5);
  assert.ok(!/NaN|Infinity/.test(svg));
  // Many hosts: still bounded and finite.
  const many = Array.from({ length: 60 }, (_, i) => hop('hub', `h${i}`, i % 60));
  const big = renderGraph(many);
  assert.ok(!/NaN|Infinity/.test(big) && (big.match(/<circle/g) ?? []).length === 61);
});
