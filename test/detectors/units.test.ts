// The pure parts on their own: event-time buffer and TTL state, 4104 reassembly, flow keys, target
// extraction, hops/chains/fan-out, CSV neutralization.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventTimeBuffer, TtlMap } from '../../detectors/stream.js';
import { ScriptBlockAssembler } from '../../detectors/scriptblocks.js';
import { flowKey, remotingTargets, kindFromResourceUri, type Half } from '../../detectors/halves.js';
import { HostDirectory, shortName, cleanIp } from '../../detectors/hosts.js';
import { analyzeHops } from '../../detectors/hops.js';
import { csvCell } from '../../detectors/timeline.js';
import { canonicalAuth, pairScore } from '../../detectors/pairing.js';
import type { Hop } from '../../detectors/session.js';
import type { NormalizedEvent } from '../../schemas/event.js';

test('buffer: releases in (time, key) order behind the watermark, whatever the arrival order', () => {
  const b = new EventTimeBuffer<string>({ latenessMs: 10, skewMs: 5 });
  b.push(100, 'b', 'x100b');
  b.push(90, 'a', 'x90');
  b.push(100, 'a', 'x100a');
  assert.deepEqual(b.drain(), []); // watermark 85
  b.push(120, 'a', 'x120');
  assert.deepEqual(b.drain(), ['x90', 'x100a', 'x100b']); // watermark 105
  b.push(95, 'a', 'late');
  assert.equal(b.late, 1);
  assert.deepEqual(b.flush(), ['late', 'x120']);
});

test('buffer: an open partition without events holds the watermark; closing releases it', () => {
  const b = new EventTimeBuffer<number>({ latenessMs: 0, skewMs: 0 });
  b.open('f1');
  b.open('f2');
  b.push(50, 'k', 50, 'f1');
  assert.deepEqual(b.drain(), []);
  b.push(10, 'k', 10, 'f2');
  assert.deepEqual(b.drain(), [10]);
  b.close('f2');
  assert.deepEqual(b.drain(), [50]);
  assert.equal(b.late, 0);
});

test('buffer: the cap forces the oldest out, down to 90% of it', () => {
  const b = new EventTimeBuffer<number>({ latenessMs: 1e9, maxBuffered: 10 });
  for (const t of [15, 3, 4, 1, 9, 8, 7, 6, 5, 2, 14, 13, 12, 11, 10]) b.push(t, '', t);
  assert.deepEqual(b.drainOverflow(), [1, 2, 3, 4, 5, 6]);
  assert.equal(b.forced, 1);
  assert.deepEqual(b.drainOverflow(), []);
  b.push(0, '', 0);
  assert.equal(b.late, 1);
  assert.deepEqual(b.flush(), [0, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
});

test('buffer: a large shuffled window comes out sorted (heap)', () => {
  const b = new EventTimeBuffer<number>({ latenessMs: 0, skewMs: 0 });
  const xs = Array.from({ length: 5000 }, (_, i) => (i * 7919) % 5000);
  for (const x of xs) b.push(x, String(x).padStart(5, '0'), x);
  assert.deepEqual(b.flush(), Array.from({ length: 5000 }, (_, i) => i));
});

test('ttl map: entries expire a TTL after their last touch; size is bounded', () => {
  const m = new TtlMap<string>(100, 2);
  m.set('a', 'A', 0);
  m.set('b', 'B', 50);
  m.touch('a', 80);
  assert.deepEqual(m.evict(160), ['B']);
  assert.deepEqual(m.evict(181), ['A']);
  m.set('x', 'X', 0); m.set('y', 'Y', 0); m.set('z', 'Z', 0);
  assert.equal(m.size, 2);
  assert.equal(m.get('x'), undefined);
});

test('ttl map: evicts exactly what a walk over every entry would, also when times go backwards', () => {
  // A model with the plain semantics (no size cap reached), against random operations whose times mostly
  // grow, with late ones among them.
  // mulberry32: a small seeded generator whose every bit is usable.
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return (((x ^ (x >>> 14)) >>> 0) / 4294967296) * n | 0;
  };
  const ttl = 1000;
  for (let run = 0; run < 20; run++) {
    const m = new TtlMap<number>(ttl);
    const model = new Map<string, { v: number; last: number }>();
    let now = 0;
    let evicted = 0;
    for (let i = 0; i < 3000; i++) {
      now += rnd(10);
      const t = rnd(10) === 0 ? now - rnd(2 * ttl) : now;
      const key = `k${rnd(200)}`;
      const op = rnd(10);
      if (op < 5) {
        m.set(key, i, t);
        const e = model.get(key);
        if (e) { e.v = i; e.last = Math.max(e.last, t); } else model.set(key, { v: i, last: t });
      } else if (op < 8) {
        m.touch(key, t);
        const e = model.get(key);
        if (e) e.last = Math.max(e.last, t);
      } else if (op < 9) {
        m.delete(key);
        model.delete(key);
      } else {
        const got = m.evict(now).sort((a, b) => a - b);
        const want: number[] = [];
        for (const [k, e] of model) if (e.last + ttl < now) { want.push(e.v); model.delete(k); }
        assert.deepEqual(got, want.sort((a, b) => a - b), `run ${run}, step ${i}`);
        evicted += got.length;
      }
      assert.equal(m.get(key), model.get(key)?.v);
      assert.equal(m.size, model.size);
    }
    assert.ok(evicted > 0);
  }
});

function part(id: string, n: number, total: number, text: string, t: string): NormalizedEvent {
  return {
    '@timestamp': t, ecs: { version: '8.11.0' }, event: { code: '4104', provider: 'Microsoft-Windows-PowerShell', kind: 'event' },
    host: { name: 'h1', hostname: 'h1' }, log: {},
    winlog: { channel: 'Microsoft-Windows-PowerShell/Operational', computer_name: 'h1', provider_name: 'Microsoft-Windows-PowerShell', event_id: 4104, time_created: t, record_id: n },
    powershell: { sequence: n, total, file: { script_block_id: id, script_block_text: text } },
    hoptrail: { schema_version: '1.0.0', provenance: { format: 'evtx' } },
  };
}

test('4104: parts join in order whatever their arrival; a missing part times out as partial', () => {
  const a = new ScriptBlockAssembler(60_000, 10);
  assert.deepEqual(a.add(part('A', 2, 3, 'b', '2020-01-01T00:00:01.000Z')), []);
  assert.deepEqual(a.add(part('A', 1, 3, 'a', '2020-01-01T00:00:00.000Z')), []);
  const done = a.add(part('A', 3, 3, 'c', '2020-01-01T00:00:02.000Z'));
  assert.equal(done.length, 1);
  assert.equal(done[0].text, 'abc');
  assert.equal(done[0].partial, false);
  assert.deepEqual(done[0].parts.map((p) => p.powershell?.sequence), [1, 2, 3]);
  a.add(part('B', 1, 2, 'x', '2020-01-01T00:00:00.000Z'));
  assert.deepEqual(a.expire(Date.parse('2020-01-01T00:00:30.000Z')), []);
  const late = a.expire(Date.parse('2020-01-01T00:01:01.000Z'));
  assert.deepEqual(late.map((b) => [b.text, b.partial]), [['x', true]]);
  assert.equal(a.size, 0);
});

test('4104: bounded pending blocks, oldest forced out as partial', () => {
  const a = new ScriptBlockAssembler(60_000, 2);
  a.add(part('A', 1, 2, 'a', '2020-01-01T00:00:00.000Z'));
  a.add(part('B', 1, 2, 'b', '2020-01-01T00:00:00.000Z'));
  const out = a.add(part('C', 1, 2, 'c', '2020-01-01T00:00:00.000Z'));
  assert.deepEqual(out.map((b) => [b.text, b.partial]), [['a', true]]);
});

test('flow key is direction-free (reversed Sysmon inbound gives the same key)', () => {
  assert.equal(flowKey('172.18.39.105', 5985, '172.18.39.106', 55049), flowKey('172.18.39.106', 55049, '172.18.39.105', 5985));
  assert.notEqual(flowKey('10.0.0.1', 5985, '10.0.0.2', 1), flowKey('10.0.0.1', 5985, '10.0.0.2', 2));
});

test('remoting targets from script text', () => {
  assert.deepEqual(remotingTargets('Invoke-Command -ComputerName WORKSTATION6 -ScriptBlock { get-process }'), ['WORKSTATION6']);
  assert.deepEqual(remotingTargets("icm -cn 'a.corp.local', b,10.0.0.5 {hostname}"), ['a.corp.local', 'b', '10.0.0.5']);
  assert.deepEqual(remotingTargets('New-PSSession -ComputerName $target'), []);
  assert.deepEqual(remotingTargets('Get-Process -ComputerName x'), []);
  assert.equal(kindFromResourceUri('http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd'), 'winrs');
  assert.equal(kindFromResourceUri('http://schemas.microsoft.com/powershell/Microsoft.PowerShell'), 'psremoting');
});

test('host directory: names, addresses and Kerberos tickets learned from data', () => {
  const d = new HostDirectory();
  d.learn('WORKSTATION5$', '::ffff:172.18.39.5');
  d.learn('fe80host', 'fe80::1');
  assert.equal(d.hostOf('172.18.39.5'), 'workstation5');
  assert.equal(d.resolve('172.18.39.5'), 'workstation5');
  assert.equal(d.resolve('DC01.mssentinel.local'), 'dc01');
  assert.equal(d.resolve('HTTP/WORKSTATION6'), 'workstation6');
  assert.equal(cleanIp('::1'), undefined);
  assert.equal(shortName('IT001$'), 'it001');
  d.addTicket('{abc}', { service: 'it001', clientIp: '172.18.39.106', time: 0 });
  assert.equal(d.ticket('{ABC}')?.service, 'it001');
  assert.equal(canonicalAuth('kerberos'), 'Kerberos');
  assert.equal(canonicalAuth('Negotiate'), 'Negotiate');
  assert.equal(canonicalAuth('Digest'), undefined);
});

const hop = (s: string, d: string, t: string, id: string): Hop => ({ type: 'hop', source: s, destination: d, time: t, session_id: id, user: 'C\\u' });

test('hops: chain A->B->C within the window, fan-out to 3 destinations within minutes', () => {
  const hops = [
    hop('a', 'b', '2020-01-01T00:00:00.000Z', '1'),
    hop('b', 'c', '2020-01-01T00:30:00.000Z', '2'),
    hop('b', 'x', '2020-01-01T03:00:00.000Z', '3'), // too late to continue the chain
    hop('f', 'p', '2020-01-01T00:00:00.000Z', '4'),
    hop('f', 'q', '2020-01-01T00:02:00.000Z', '5'),
    hop('f', 'r', '2020-01-01T00:04:00.000Z', '6'),
    hop('f', 'p', '2020-01-01T00:05:00.000Z', '7'),
  ];
  const { chains, fanouts } = analyzeHops(hops);
  assert.deepEqual(chains.map((c) => c.hosts), [['a', 'b', 'c']]);
  assert.deepEqual(chains[0].session_ids, ['1', '2']);
  assert.deepEqual(fanouts.map((f) => [f.source, f.destinations]), [['f', ['p', 'q', 'r']]]);
  assert.equal(analyzeHops(hops.slice(3, 5)).fanouts.length, 0);
});

test('csv: formula-looking cells are neutralized, quotes doubled', () => {
  assert.equal(csvCell('=cmd|calc'), `'=cmd|calc`);
  assert.equal(csvCell('+1'), `'+1`);
  assert.equal(csvCell('-enc'), `'-enc`);
  assert.equal(csvCell('@SUM(A1)'), `'@SUM(A1)`);
  assert.equal(csvCell('\tx'), `'\tx`);
  assert.equal(csvCell('a,"b"'), '"a,""b"""');
  assert.equal(csvCell('\rx'), `"'\rx"`);
  assert.equal(csvCell(5985), '5985');
});

function half(side: 'source' | 'destination', host: string, extra: Partial<Half> = {}): Half {
  return {
    id: `${side}-${host}`, side, host, hostname: host.split('.')[0], start: 1000, last: 2000, end: 2000, strong: true, logonIds: [],
    guids: new Set(), targets: new Set(), remoteIps: new Set(), localIps: new Set(), flows: new Set(), commands: [], evidence: [],
    closed: true, dropped: 0, ...extra,
  };
}

test('pair score: flow beats target; same host only through a loopback target; time must overlap', () => {
  const d = new HostDirectory();
  const dst = half('destination', 'b.corp', { flows: new Set(['10.0.0.1:50000|10.0.0.2:5985']), user: { name: 'u' } });
  assert.equal(pairScore(half('source', 'a.corp', { flows: new Set(['10.0.0.1:50000|10.0.0.2:5985']), user: { name: 'U' } }), dst, d, 0), 11);
  assert.equal(pairScore(half('source', 'a.corp', { targets: new Set(['B']) }), dst, d, 0), 5);
  assert.equal(pairScore(half('source', 'a.corp', { targets: new Set(['c']) }), dst, d, 0), 0);
  assert.equal(pairScore(half('source', 'a.corp', { targets: new Set(['B']), start: 5000, end: 6000 }), dst, d, 1000), 0);
  assert.equal(pairScore(half('source', 'a.corp', { targets: new Set(['B']), start: 2500, end: 6000 }), dst, d, 1000), 5);
  // Same host: nothing unless the source named itself or localhost.
  assert.equal(pairScore(half('source', 'b.corp', { flows: dst.flows }), dst, d, 0), 0);
  assert.equal(pairScore(half('source', 'b.corp', { targets: new Set(['localhost']) }), dst, d, 0), 5);
});
