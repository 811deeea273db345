// The default rule settings written out in defaults.ts (kept free of zod for hunt's workers) are what the
// rules-file schema makes of an empty file, key order included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CONFIG, RulesFile } from '../../detectors/findings/config.js';

test('DEFAULT_CONFIG is the rules-file schema applied to {}', () => {
  assert.equal(JSON.stringify(DEFAULT_CONFIG), JSON.stringify(RulesFile.parse({})));
});
