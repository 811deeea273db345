// The stream's log lines (pino): one JSON object per line with the level by name, an ISO time, the
// fields, then msg; levels below the minimum are dropped.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonLogger } from '../../../ingest/kafka/log.js';

test('log: JSON lines with level name, ISO time, fields and msg; below the minimum dropped', () => {
  const lines: string[] = [];
  const log = jsonLogger('info', (l) => lines.push(l));
  log.debug('not shown', { a: 1 });
  log.info('state restored', { events: 3, sources: { 't/0': 7 } });
  log.error('commit failed', { error: 'Error: x' });
  assert.equal(lines.length, 2);
  assert.ok(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n')));
  const [a, b] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(Object.keys(a), ['level', 'time', 'events', 'sources', 'msg']);
  assert.deepEqual({ ...a, time: undefined }, { level: 'info', time: undefined, events: 3, sources: { 't/0': 7 }, msg: 'state restored' });
  assert.match(String(a.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(b.level, 'error');
  assert.equal(b.error, 'Error: x');
});
