// hunt's late tier-up: set unless node was given a budget of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { optimizeLater } from '../../cli/jit.js';

test('optimizeLater leaves a budget given to node alone, and sets its own otherwise', () => {
  assert.equal(optimizeLater(['--interrupt-budget=1000']), false);
  assert.equal(optimizeLater(['--stack-size=900', '--interrupt_budget=5000']), false);
  assert.equal(optimizeLater(['--stack-size=900']), true);
});
