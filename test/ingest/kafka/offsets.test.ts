// Which offsets may be committed: rejects at once, events only once the state horizon has passed them,
// never backwards.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OffsetBook, PartitionOffsets } from '../../../ingest/kafka/offsets.js';

test('offsets: a held event blocks the commit of everything after it', () => {
  const p = new PartitionOffsets();
  p.add(0, -Infinity); // a reject
  p.add(1, 1000);
  p.add(2, -Infinity);
  p.add(3, 500);
  assert.equal(p.commitPoint(0), 1, 'the reject before the first held event');
  assert.equal(p.commitPoint(0), undefined, 'unchanged');
  assert.equal(p.commitPoint(1001), 4, 'all settled: next offset after the last');
  p.add(4, 2000);
  assert.equal(p.commitPoint(1500), undefined);
  assert.equal(p.pending, 1);
});

test('offsets: the book commits per partition and forgets revoked ones', () => {
  const b = new OffsetBook();
  for (let i = 0; i < 10_000; i++) b.add('t', i % 2, i, i);
  assert.deepEqual(b.due(100), [{ topic: 't', partition: 0, offset: '99' }, { topic: 't', partition: 1, offset: '100' }]);
  assert.deepEqual(b.due(Infinity), [{ topic: 't', partition: 0, offset: '9999' }, { topic: 't', partition: 1, offset: '10000' }]);
  assert.equal(b.pending(), 0);
  b.add('t', 0, 20_000, 5);
  b.forget('t', 0);
  assert.deepEqual(b.due(Infinity), []);
});
