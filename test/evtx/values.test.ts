// Value types and BinXML tokens on bytes built by the test itself (test/support/binxml-writer.ts): every
// type the corpus may lack, and every token.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arrayItems, conventionalText, filetime, scalar, systemtime } from '../../ingest/evtx/values.js';
import { ChunkContext, parseFragment } from '../../ingest/evtx/binxml.js';
import { buildRecord } from '../../ingest/evtx/flatten.js';
import { Scope } from '../../ingest/evtx/resolve.js';
import { renderXml } from '../../ingest/evtx/xml.js';
import { BinXmlWriter, filetimeV, hex64v, nullv, str, u16v, u32v, u64v, u8v } from '../support/binxml-writer.js';

const le = (...bytes: number[]) => Buffer.from(bytes);
const v = (type: number, b: Buffer) => scalar(b, type, 0, b.length);

test('integers, reals, booleans and hex numbers render as Windows shows them', () => {
  assert.equal(v(0x03, le(0xff)), '-1');
  assert.equal(v(0x04, le(0xff)), '255');
  assert.equal(v(0x05, le(0x00, 0x80)), '-32768');
  assert.equal(v(0x06, le(0x00, 0x80)), '32768');
  assert.equal(v(0x07, le(0xfe, 0xff, 0xff, 0xff)), '-2');
  assert.equal(v(0x08, le(0xfe, 0xff, 0xff, 0xff)), '4294967294');
  assert.equal(v(0x09, le(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), '-1');
  assert.equal(v(0x09, le(0, 0, 0, 0, 0, 0, 0, 0x80)), '-9223372036854775808');
  assert.equal(v(0x0a, le(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), '18446744073709551615');
  assert.equal(v(0x0a, le(0x15, 0xcd, 0x5b, 0x07, 0, 0, 0, 0)), '123456789');
  const f32 = Buffer.alloc(4); f32.writeFloatLE(1.5);
  assert.equal(v(0x0b, f32), '1.5');
  const f64 = Buffer.alloc(8); f64.writeDoubleLE(-0.25);
  assert.equal(v(0x0c, f64), '-0.25');
  assert.equal(v(0x0d, le(1, 0, 0, 0)), 'true');
  assert.equal(v(0x0d, le(0, 0, 0, 0)), 'false');
  assert.equal(v(0x0d, le(2, 0, 0, 0)), 'true', 'irregular non-zero booleans are true');
  assert.equal(v(0x0d, le(0, 1, 0, 0)), 'true');
  assert.equal(v(0x14, le(0xe7, 0x03, 0, 0)), '0x3e7');
  assert.equal(v(0x15, le(0xe7, 0x03, 0, 0, 0, 0, 0, 0)), '0x3e7');
  assert.equal(v(0x15, le(0, 0, 0, 0, 0, 0, 0, 0x80)), '0x8000000000000000');
  assert.equal(v(0x10, le(0x10, 0, 0, 0)), '0x10', 'SizeT of 4 bytes');
  assert.equal(v(0x10, le(0, 0, 0, 0, 1, 0, 0, 0)), '0x100000000', 'SizeT of 8 bytes');
  assert.equal(v(0x20, le(7, 0, 0, 0)), '7', 'EvtHandle');
});

test('strings, binary, GUIDs, SIDs and times', () => {
  assert.equal(v(0x01, Buffer.from('abc\0\0', 'utf16le')), 'abc', 'trailing NULs dropped');
  assert.equal(v(0x01, Buffer.from('x'.repeat(100), 'utf16le')), 'x'.repeat(100));
  assert.equal(v(0x01, Buffer.from('a\r\nb', 'utf16le')), 'a\nb');
  assert.equal(v(0x02, Buffer.from('ansi\0', 'latin1')), 'ansi');
  assert.equal(v(0x0e, le(0x00, 0xab, 0x0f)), '00AB0F');
  assert.equal(v(0x0f, le(0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff)), '{00112233-4455-6677-8899-AABBCCDDEEFF}');
  // S-1-5-21-1-2-3-500
  const sid = le(1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0xf4, 0x01, 0, 0);
  assert.equal(v(0x13, sid), 'S-1-5-21-1-2-3-500');
  assert.throws(() => v(0x13, sid.subarray(0, 20)), /SID runs past/);
  // 2019-05-16T01:33:54.5678966Z
  const ticks = BigInt(Date.UTC(2019, 4, 16, 1, 33, 54)) * 10000n + 116444736000000000n + 5678966n;
  assert.equal(filetime(Number(ticks & 0xffffffffn), Number(ticks >> 32n)), '2019-05-16T01:33:54.5678966Z');
  assert.equal(filetime(0, 0), '1601-01-01T00:00:00.0000000Z');
  assert.equal(filetime(0xffffffff, 0xffffffff), '+060056-05-28T05:36:10.9551615Z', 'the largest FILETIME does not throw');
  const st = Buffer.alloc(16);
  [2020, 10, 2, 20, 11, 50, 51, 739].forEach((n, i) => st.writeUInt16LE(n, 2 * i));
  assert.equal(systemtime(st, 0), '2020-10-20T11:50:51.7390000Z');
});

test('arrays: strings, fixed-size items, SIDs, and malformed sizes', () => {
  assert.deepEqual(arrayItems(Buffer.from('one\0two\0\0three\0', 'utf16le'), 0x81, 0, 30), ['one', 'two', '', 'three']);
  assert.deepEqual(arrayItems(Buffer.alloc(0), 0x81, 0, 0), []);
  assert.deepEqual(arrayItems(le(1, 0, 2, 0, 0xff, 0xff), 0x86, 0, 6), ['1', '2', '65535']);
  assert.deepEqual(arrayItems(le(1, 0, 0, 0, 0, 0, 0, 0), 0x8d, 0, 8), ['true', 'false']);
  const sids = le(1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 5, 19, 0, 0, 0);
  assert.deepEqual(arrayItems(sids, 0x93, 0, sids.length), ['S-1-5-18', 'S-1-5-19']);
  assert.throws(() => arrayItems(le(1, 0, 2), 0x86, 0, 3), /not a whole number/);
});

test('text conventions of the reference dumps', () => {
  assert.equal(conventionalText('{94e28d60-6722-4133-b7a0-0a6456b70829}'), '{94E28D60-6722-4133-B7A0-0A6456B70829}');
  assert.equal(conventionalText('2019-04-30 20:32:49.659'), '2019-04-30T20:32:49.6590000Z');
  assert.equal(conventionalText('2016-09-20T15:12:54Z'), '2016-09-20T15:12:54.0000000Z');
  assert.equal(conventionalText('2016-09-20T15:12:54'), '2016-09-20T15:12:54', 'a time without a zone is left alone');
  assert.equal(conventionalText('0x00000001'), '0x1');
  assert.equal(conventionalText('0x0'), '0x0');
  assert.equal(conventionalText('a\r\nb\rc'), 'a\nb\nc');
  assert.equal(conventionalText('plain'), 'plain');
});

/** The fragment a writer built (at offset 512 of its buffer, as in a chunk), parsed. */
function fragment(w: BinXmlWriter): { ctx: ChunkContext; nodes: ReturnType<typeof parseFragment>; scope: Scope } {
  const ctx = new ChunkContext(w.buf, w.buf.length);
  return { ctx, nodes: parseFragment(ctx, 512, w.pos, false), scope: new Scope(ctx, []) };
}

test('every BinXML token: elements, attributes, values, CDATA, references, processing instructions', () => {
  const w = new BinXmlWriter();
  w.fragmentHeader()
    .open('Event', { attrs: true }).attr('xmlns').text('urn:x').closeStart()
    .open('System').closeStart()
    .open('Provider', { attrs: true }).attr('Name').text('P<&>').closeEmpty()
    .open('EventID').closeStart().text('4').charRef(0x32).end()
    .open('Channel').closeStart().text('A').entityRef('amp').text('B').end()
    .end()
    .open('EventData').closeStart()
    .open('Data', { attrs: true }).attr('Name').text('Script').closeStart().cdata('x<y').end()
    .pi('xml-stylesheet', 'href="a"')
    .end()
    .end()
    .eof();
  const { nodes, scope } = fragment(w);
  const rec = buildRecord(nodes, scope, 1, filetime(0, 0));
  assert.equal(rec.provider, 'P<&>');
  assert.equal(rec.event_id, 42);
  assert.equal(rec.channel, 'A&B');
  assert.deepEqual(rec.event_data, { Script: 'x<y' });
  const xml = renderXml(nodes, scope);
  assert.match(xml, /<Provider Name="P&lt;&amp;&gt;"\/>/);
  assert.match(xml, /<Data Name="Script">x&lt;y<\/Data>/);
  assert.match(xml, /<\?xml-stylesheet href="a"\?>/);
});

test("EventData names an object already has (constructor) or that an assignment does not store (__proto__) are kept", () => {
  const w = new BinXmlWriter();
  w.fragmentHeader()
    .open('Event').closeStart()
    .open('EventData').closeStart()
    .open('Data', { attrs: true }).attr('Name').text('__proto__').closeStart().text('a').end()
    .open('Data', { attrs: true }).attr('Name').text('constructor').closeStart().text('b').end()
    .open('Data', { attrs: true }).attr('Name').text('constructor').closeStart().text('c').end()
    .end()
    .end()
    .eof();
  const { nodes, scope } = fragment(w);
  const rec = buildRecord(nodes, scope, 1, filetime(0, 0));
  assert.deepEqual(Object.entries(rec.event_data), [['__proto__', 'a'], ['constructor', 'b'], ['constructor_2', 'c']]);
  assert.equal(Object.getPrototypeOf(rec.event_data), Object.prototype);
});

test('names a damaged record made of garbage are written so that its XML stays well-formed', () => {
  const w = new BinXmlWriter();
  w.fragmentHeader()
    .open('Event').closeStart()
    .open('UserData').closeStart()
    .open('\u0000\u0469<a b>', { attrs: true }).attr('5http://x:y:z').text('v').closeStart().text('t').end()
    .open('auto-ns2:Ok', { attrs: true }).attr('xmlns:auto-ns2').text('urn:y').closeEmpty()
    .pi('bad target', 'a ?> b\u0001')
    .end()
    .end()
    .eof();
  const { nodes, scope } = fragment(w);
  const xml = renderXml(nodes, scope);
  assert.match(xml, /<_x0000__x0469__x003C_a_x0020_b_x003E_ _x0035_http_x003A__x002F__x002F_x_x003A_y_x003A_z="v">t<\/_x0000__x0469__x003C_a_x0020_b_x003E_>/);
  // A name of one prefix and one local part is a name still.
  assert.match(xml, /<auto-ns2:Ok xmlns:auto-ns2="urn:y"\/>/);
  assert.match(xml, /<\?bad_x0020_target a \? > b\uFFFD\?>/);
  // Every tag and attribute name is an XML name with at most one colon; no control character anywhere.
  for (const m of xml.matchAll(/<\/?([^\s/>?]+)|\s([^\s=<>]+)="/g)) assert.match(m[1] ?? m[2], /^[A-Za-z_][A-Za-z0-9_.-]*(?::[A-Za-z_][A-Za-z0-9_.-]*)?$/);
  assert.doesNotMatch(xml, /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/); // eslint-disable-line no-control-regex
});

function modernRecord(values: { type: number; data: Buffer }[]) {
  const w = new BinXmlWriter();
  w.fragmentHeader().templateInstance((t) => {
    t.system([['Provider', 0x01], ['EventID', 0x06], ['Version', 0x04, true], ['Keywords', 0x15, true], ['TimeCreated', 0x11, true], ['EventRecordID', 0x0a], ['Security', 0x13, true]])
      .open('EventData', { dep: true }).closeStart()
      .open('Data', { dep: true }).closeStart().sub(7, 0x81, true).end()
      .open('Data', { attrs: true, dep: true }).attr('Name').text('Count').closeStart().sub(8, 0x08, true).end()
      .end()
      .end();
  }, values);
  w.eof();
  return fragment(w);
}

test('template instances: substitutions of each kind, optional nulls, string arrays as repeated Data', () => {
  const ticks = 132000000000000000n;
  const { nodes, ctx } = modernRecord([
    str('Microsoft-Windows-Test'), u16v(4624), u8v(2), hex64v(0x8020000000000000n), filetimeV(ticks), u64v(77n), nullv(),
    { type: 0x81, data: Buffer.from('first\0second\0', 'utf16le') }, u32v(3),
  ]);
  const rec = buildRecord(nodes, new Scope(ctx, []), 9, filetime(0, 0));
  assert.equal(rec.provider, 'Microsoft-Windows-Test');
  assert.equal(rec.event_id, 4624);
  assert.equal(rec.version, 2);
  assert.equal(rec.keywords, '0x8020000000000000');
  assert.equal(rec.timestamp, filetime(Number(ticks & 0xffffffffn), Number(ticks >> 32n)));
  assert.equal(rec.record_id, 77);
  assert.equal(rec.user_sid, undefined, 'an optional null attribute is omitted');
  assert.deepEqual(rec.event_data, { param1: 'first', param2: 'second', Count: '3' });
  assert.equal(rec.event_data_kind, 'EventData');
});

test('a template that instantiates itself is an error, not a hang', () => {
  const w = new BinXmlWriter();
  // A template definition at 600 whose body holds an instance of the template at 600.
  w.pos = 600;
  w.u32(0).bytes(Buffer.alloc(16));
  const sizeAt = w.pos;
  w.u32(0);
  const start = w.pos;
  w.fragmentHeader().open('Event', { dep: true }).closeStart().templateRef(600, []).end().eof();
  w.buf.writeUInt32LE(w.pos - start, sizeAt);
  const recordAt = w.pos;
  w.fragmentHeader().templateRef(600, []).eof();
  const ctx = new ChunkContext(w.buf, w.buf.length);
  assert.throws(() => parseFragment(ctx, recordAt, w.pos, false), /refers to itself/);
});
