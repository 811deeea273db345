// --es-config: connection settings from a JSON file, merged under the command line, with clear errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { esConnectionFromFlags } from '../../cli/es-output.js';
import { resolveConnection } from '../../sinks/elasticsearch/connection.js';

test('--es-config gives URL, basic auth and TLS settings; --es and --es-api-key-env win over it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoptrail-es-config-'));
  try {
    const file = join(dir, 'es.json');
    writeFileSync(file, JSON.stringify({ url: 'https://es.example:9200', username: 'hunter', password: 's3cret', ca_file: '/etc/ca.pem', tls_verify: true }));
    const opts = esConnectionFromFlags({ 'es-config': file }, {});
    assert.ok(typeof opts !== 'string');
    const c = resolveConnection(opts, {});
    assert.equal(c.url, 'https://es.example:9200');
    assert.deepEqual(c.auth, { kind: 'basic', username: 'hunter', password: 's3cret' });
    assert.equal(c.caFile, '/etc/ca.pem');
    assert.equal(c.tlsVerify, true);
    const over = esConnectionFromFlags({ 'es-config': file, es: 'http://127.0.0.1:9201', 'es-api-key-env': 'KEY' }, { KEY: 'aWQ6a2V5' });
    assert.ok(typeof over !== 'string');
    const c2 = resolveConnection(over, {});
    assert.equal(c2.url, 'http://127.0.0.1:9201');
    assert.deepEqual(c2.auth, { kind: 'apiKey', apiKey: 'aWQ6a2V5' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad --es-config is refused with the file and the reason, never with a secret', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoptrail-es-config-'));
  try {
    const file = join(dir, 'es.json');
    writeFileSync(file, JSON.stringify({ url: 'http://x', passwrd: 'hunter2' }));
    const err = esConnectionFromFlags({ 'es-config': file }, {});
    assert.equal(typeof err, 'string');
    assert.match(err as string, /es\.json/);
    assert.match(err as string, /passwrd|unrecognized/i);
    assert.ok(!(err as string).includes('hunter2'));
    assert.match(esConnectionFromFlags({ 'es-config': join(dir, 'missing.json') }, {}) as string, /ENOENT/);
    writeFileSync(file, '{not json');
    assert.equal(typeof esConnectionFromFlags({ 'es-config': file }, {}), 'string');
    assert.match(esConnectionFromFlags({ 'es-api-key-env': 'NOPE' }, {}) as string, /NOPE is empty or unset/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
