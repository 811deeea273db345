// The hand-written EventData scanner and entity decoder against the regexes they replaced (kept here as
// the reference): equal results on hand-picked edge cases and on seeded random XML-ish strings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeXml, flattenEventXml } from '../../ingest/json/eventdata_xml.js';
import { cleanEventData } from '../../ingest/normalize/values.js';
import { rng } from '../support/rng.js';

const ENTITY = /&(lt|gt|amp|quot|apos|#x[0-9a-fA-F]+|#\d+);/g;
function refDecode(s: string): string {
  if (s.indexOf('&') < 0) return s;
  return s.replace(ENTITY, (_m, e: string) => {
    switch (e) {
      case 'lt': return '<';
      case 'gt': return '>';
      case 'amp': return '&';
      case 'quot': return '"';
      case 'apos': return "'";
      default: return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    }
  });
}
function refAdd(out: Record<string, string>, key: string, v: string): void {
  // Own keys, whatever the name: `constructor` is not a repeat, `__proto__` is a key (ingest/own.ts).
  const set = (k: string): void => { Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true }); };
  if (!Object.hasOwn(out, key)) { set(key); return; }
  for (let i = 2; ; i++) if (!Object.hasOwn(out, `${key}_${i}`)) { set(`${key}_${i}`); return; }
}
const DATA = /<Data(?:\s+Name\s*=\s*"([^"]*)")?\s*(?:\/>|>([\s\S]*?)<\/Data>)/g;
function refEventData(xml: string): Record<string, string> | undefined {
  const t = xml.trim();
  if (!/^<EventData[\s>/]/.test(t)) return undefined;
  const data: Record<string, string> = {};
  let n = 0;
  for (const m of t.matchAll(DATA)) {
    n++;
    refAdd(data, m[1] !== undefined && m[1] !== '' ? m[1] : `param${n}`, refDecode(m[2] ?? ''));
  }
  const bin = /<Binary>([\s\S]*?)<\/Binary>/.exec(t);
  if (bin) data.Binary = bin[1].trim().toUpperCase();
  return data;
}

function same(xml: string): void {
  const ref = refEventData(xml);
  const got = flattenEventXml(xml);
  if (ref === undefined) assert.notEqual(got.kind, 'EventData', xml);
  else {
    assert.equal(got.kind, 'EventData', xml);
    assert.deepEqual(Object.entries(got.data), Object.entries(ref), xml);
    // Data the scanner marked clean is cleaned as an unmarked copy would be.
    const c = cleanEventData(got.data), copy = cleanEventData({ ...got.data });
    assert.deepEqual(c === undefined ? undefined : Object.entries(c), copy === undefined ? undefined : Object.entries(copy), xml);
  }
}

function safeDecode(f: (s: string) => string, s: string): string {
  try { return f(s); } catch (e) { return `throws ${(e as Error).name}`; }
}

test('entities: decoded as the regex did, malformed ones left as they are', () => {
  for (const s of ['', 'plain', '&', '&&', '&lt;&gt;&amp;&quot;&apos;', '&amp;lt;', '&lt', '&ltx;', '&LT;', '&#65;&#x42;&#x4a;', '&#X41;',
    '&#x;', '&#;', '&#x1g;', '&#12a;', 'a&b;c', '&#x1F600;', '&#0;', '&ap;', '&apos', '&am;', '&quot&quot;', 'x&#x41;y&#66;z', '&&lt;;']) {
    assert.equal(decodeXml(s), refDecode(s), s);
  }
  assert.equal(safeDecode(decodeXml, '&#99999999;'), safeDecode(refDecode, '&#99999999;'));
  assert.equal(safeDecode(decodeXml, '&#x110000;'), safeDecode(refDecode, '&#x110000;'));
});

test('EventData: edge cases as the regex read them', () => {
  for (const x of [
    '<EventData/>', '<EventData>', '<EventData >', '<EventDataX><Data>a</Data></EventDataX>', '  <EventData>\n<Data Name="a">1</Data></EventData>  ',
    '<EventData><Data Name="a">1</Data><Data Name="a">2</Data><Data Name="a_2">3</Data><Data Name="a">4</Data></EventData>',
    '<EventData><Data Name="">x</Data><Data>y</Data><Data Name="p">z</Data><Data/></EventData>',
    '<EventData><Data Name = "a" >1</Data><Data\n\tName\n=\n"b"\n/><Data   /><Data Name=\'c\'>3</Data></EventData>',
    '<EventData><Data Name="a" Other="b">1</Data><Data Name="c">2</Data></EventData>',
    '<EventData><Data Name="a">no close<Data Name="b"/></EventData>',
    '<EventData><Data Name="a>b">1</Data><Data Name="c</Data>">2</Data></EventData>',
    '<EventData><Data Name="a"><Data Name="b">inner</Data></Data></EventData>',
    '<EventData><DataX>1</DataX><Data>2</Data><Data\u00a0Name="nb">3</Data><Data\u2028/></EventData>',
    '<EventData><Data Name="constructor">c</Data><Data Name="toString">t</Data><Data Name="__proto__">p</Data></EventData>',
    '<EventData><Data Name="a">&lt;x&gt; &amp;amp; &#x41;</Data><Binary>  0a0b </Binary><Binary>ff</Binary></EventData>',
    '<EventData><Binary>00</Binary><Data Name="a">1',
    '<EventData><Data Name="a">1</Data><Binary>unclosed',
    '<EventData><Data Name="a"',
    '<EventData><Data Name="a" /',
    '<EventData><Data Name',
    '<EventData><Data',
  ]) same(x);
});

test('EventData: seeded random documents read as the regex read them', () => {
  const parts = ['<Data', '<Data ', ' Name', 'Name', '=', ' = ', '"', '"a"', '"Name"', '"Binary"', ' Name="Binary">-</Data>', '""', '>', '/>', '/', '</Data>', '</Data', '<Binary>', '</Binary>',
    'x', 'abc', '-', '%%1842', '%%1793', ' ', '\n', '\t', '\u00a0', '&lt;', '&amp;', '&#x41;', '&#66;', '&', ';', '<', 'é', '<Data Name="k">v</Data>', '<Data/>', '<Data>p</Data>'];
  for (let seed = 1; seed <= 3000; seed++) {
    const r = rng(seed);
    let s = r() < 0.9 ? '<EventData>' : r() < 0.5 ? ' <EventData ' : '<EventData/';
    const n = Math.floor(r() * 30);
    for (let i = 0; i < n; i++) s += parts[Math.floor(r() * parts.length)];
    if (r() < 0.7) s += '</EventData>';
    same(s);
    const d = s.slice(Math.floor(r() * s.length));
    assert.equal(decodeXml(d), refDecode(d), d);
  }
});
