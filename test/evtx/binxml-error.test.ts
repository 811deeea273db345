// BinXmlError is thrown at every fragment candidate that does not parse while slack space is carved
// (thousands per small log): it carries its message and offset but no stack trace, which cost more than
// the parse (hunt of 110 one-record logs: 2.75 G -> 2.36 G instructions); other errors keep theirs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BinXmlError } from '../../ingest/evtx/binxml.js';

test('BinXmlError: message and offset, no stack frames; stack traces of other errors untouched', () => {
  const before = Error.stackTraceLimit;
  const e = new BinXmlError('bad token 0xff', 0x1234);
  assert.ok(e instanceof Error);
  assert.equal(e.message, 'bad token 0xff');
  assert.equal(e.offset, 0x1234);
  assert.doesNotMatch(e.stack ?? '', /\n\s+at /, 'no frames captured');
  assert.equal(Error.stackTraceLimit, before, 'the limit is put back');
  assert.match(new Error('other').stack ?? '', /\n\s+at /, 'other errors keep their frames');
});
