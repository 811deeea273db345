// Connection settings for the Elasticsearch sink: URL, API key or basic auth, TLS. Options win over the
// environment. Secrets are kept out of every string this module produces for logs.
import { readFileSync } from 'node:fs';
import { Client } from '@elastic/elasticsearch';

export const DEFAULT_ES_URL = 'http://127.0.0.1:9200';

export interface EsConnectionOptions {
  /** Default: env HOPTRAIL_ES_URL, else http://127.0.0.1:9200. user:pass@ in the URL is moved to basic auth. */
  url?: string;
  /** Base64 "id:key" API key. Default: env HOPTRAIL_ES_API_KEY. Wins over basic auth. */
  apiKey?: string;
  /** Basic auth. Default: env HOPTRAIL_ES_USERNAME / HOPTRAIL_ES_PASSWORD. */
  username?: string;
  password?: string;
  /** PEM CA bundle to trust for https. Default: env HOPTRAIL_ES_CA_FILE. */
  caFile?: string;
  /** TLS certificate verification; on unless explicitly turned off (env HOPTRAIL_ES_TLS_VERIFY=false). */
  tlsVerify?: boolean;
  /** Per-request timeout. Default 60 s. */
  requestTimeoutMs?: number;
}

export interface ResolvedConnection {
  /** Without credentials. */
  url: string;
  auth: { kind: 'none' } | { kind: 'apiKey'; apiKey: string } | { kind: 'basic'; username: string; password: string };
  caFile?: string;
  tlsVerify: boolean;
  requestTimeoutMs: number;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/** Merges options with the environment; throws on a malformed URL or half-given basic auth. */
export function resolveConnection(opts: EsConnectionOptions = {}, env: NodeJS.ProcessEnv = process.env): ResolvedConnection {
  const raw = nonEmpty(opts.url) ?? nonEmpty(env.HOPTRAIL_ES_URL) ?? DEFAULT_ES_URL;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    // Never echo the raw value: it may hold a password.
    throw new Error('Elasticsearch URL is not a valid URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`Elasticsearch URL must be http(s), got ${u.protocol}`);
  let username = nonEmpty(opts.username) ?? nonEmpty(env.HOPTRAIL_ES_USERNAME);
  let password = nonEmpty(opts.password) ?? nonEmpty(env.HOPTRAIL_ES_PASSWORD);
  if (u.username !== '' || u.password !== '') {
    username ??= decodeURIComponent(u.username);
    password ??= decodeURIComponent(u.password);
    u.username = '';
    u.password = '';
  }
  const apiKey = nonEmpty(opts.apiKey) ?? nonEmpty(env.HOPTRAIL_ES_API_KEY);
  let auth: ResolvedConnection['auth'] = { kind: 'none' };
  if (apiKey !== undefined) auth = { kind: 'apiKey', apiKey };
  else if (username !== undefined || password !== undefined) {
    if (username === undefined || password === undefined) throw new Error('basic auth needs both a username and a password');
    auth = { kind: 'basic', username, password };
  }
  const envVerify = env.HOPTRAIL_ES_TLS_VERIFY;
  const tlsVerify = opts.tlsVerify ?? !(envVerify !== undefined && /^(0|false|no|off)$/i.test(envVerify));
  return {
    url: u.toString().replace(/\/$/, ''),
    auth,
    caFile: nonEmpty(opts.caFile) ?? nonEmpty(env.HOPTRAIL_ES_CA_FILE),
    tlsVerify,
    requestTimeoutMs: opts.requestTimeoutMs ?? 60_000,
  };
}

/** A one-line description that is safe to log (no secret, only the kind of auth). */
export function describeConnection(c: ResolvedConnection): string {
  const auth = c.auth.kind === 'basic' ? `basic auth as ${c.auth.username}` : c.auth.kind === 'apiKey' ? 'API key' : 'no auth';
  const tls = c.url.startsWith('https:') ? `, TLS verify ${c.tlsVerify ? 'on' : 'OFF'}${c.caFile ? `, CA ${c.caFile}` : ''}` : '';
  return `${c.url} (${auth}${tls})`;
}

/** The secrets of a connection, to mask in any message that reaches a log. */
export function secretsOf(c: ResolvedConnection): string[] {
  if (c.auth.kind === 'apiKey') return [c.auth.apiKey];
  if (c.auth.kind === 'basic') return [c.auth.password, Buffer.from(`${c.auth.username}:${c.auth.password}`).toString('base64')];
  return [];
}

/** Replaces every secret in a message by "***". */
export function redact(message: string, secrets: readonly string[]): string {
  let out = message;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('***');
  return out;
}

/**
 * Builds a client for the sink. Client-side retries are off: the bulk indexer runs its own retry policy
 * (long waits through a server restart would otherwise be cut short by the client's few quick retries).
 */
export function createClient(c: ResolvedConnection): Client {
  const tls = c.url.startsWith('https:')
    ? { rejectUnauthorized: c.tlsVerify, ...(c.caFile ? { ca: readFileSync(c.caFile) } : {}) }
    : undefined;
  return new Client({
    node: c.url,
    auth:
      c.auth.kind === 'apiKey'
        ? { apiKey: c.auth.apiKey }
        : c.auth.kind === 'basic'
          ? { username: c.auth.username, password: c.auth.password }
          : undefined,
    tls,
    maxRetries: 0,
    requestTimeout: c.requestTimeoutMs,
    compression: false,
    // Errors carry request metadata; keep auth headers out of them.
    redaction: { type: 'replace' },
  });
}
