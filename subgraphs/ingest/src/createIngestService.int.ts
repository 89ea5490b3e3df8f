import { DEV_ISSUER, ensureDevInternalKeys, ensureDevKeys, mintDevToken, SCOPES, type DevKeyFiles } from '@coherence/auth';
import { outboxEventSchema, validate } from '@coherence/contracts';
import { createLogger, createPgPool, type PgPool } from '@coherence/platform';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readIngestConfig } from './config';
import { createIngestService } from './createIngestService';
import { expireIdempotencyKeys } from './modules/idempotency/idempotencyStore';

/** `POST /v1/signals` against the real Postgres and Redis: auth, the write policy, the bad-input matrix, provenance, idempotency, the limiter. */
const keyDir = mkdtempSync(join(tmpdir(), 'ingest-keys-'));
let keys: DevKeyFiles;
let database: TestDatabase;
let admin: PgPool;
const services: Awaited<ReturnType<typeof createIngestService>>[] = [];
let url: string;
let throttledUrl: string;
/** The first service's subgraph and admin listeners. */
let subgraphUrl: string;
let adminUrl: string;

async function startIngest(env: Record<string, string> = {}) {
  const service = await createIngestService(
    readIngestConfig({
      INGEST_DATABASE_URL: database.urls.ingest,
      INGEST_REGION: 'us',
      // Tests read decision rows right after a request; a short interval keeps that wait small.
      INGEST_DECISION_FLUSH_MS: '20',
      INGEST_JWKS: keys.jwksPath,
      INGEST_TOKEN_ISSUERS: DEV_ISSUER,
      INGEST_REDIS_URL: inject('services').redisUrl,
      INGEST_BODY_LIMIT_BYTES: '65536',
      // These tests send refused tokens from one address on purpose; the throttle has its own instance below.
      INGEST_ADDRESS_REFUSAL_BURST: '100000',
      SUBGRAPH_INTERNAL_JWKS: (await ensureDevInternalKeys(keyDir)).jwksPath,
      ...env,
    }),
    createLogger('ingest', 'silent'),
  );
  services.push(service);
  const urlOf = async (app: typeof service.app) => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  };
  return { url: await urlOf(service.app), subgraphUrl: await urlOf(service.subgraph), adminUrl: await urlOf(service.admin) };
}

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  admin = createPgPool(database.adminUrl);
  keys = await ensureDevKeys(keyDir);
  ({ url, subgraphUrl, adminUrl } = await startIngest());
  throttledUrl = (await startIngest({ INGEST_RATE_PER_SECOND: '1', INGEST_RATE_BURST: '3' })).url;
});

afterAll(async () => {
  await Promise.all(services.map((s) => s.close()));
  await admin?.end();
  await database?.drop();
  rmSync(keyDir, { recursive: true, force: true });
});

const tenant = (name: string) => `${database.namespace}-${name}`;
/** Registers `tenantName` (once) in `residency`; the write policy refuses signals of an unregistered tenant. */
const register = (tenantName: string, residency = 'us') =>
  admin.query('INSERT INTO tenants (tenant_id, residency) VALUES ($1, $2) ON CONFLICT (tenant_id) DO NOTHING', [
    tenant(tenantName),
    residency,
  ]);
/** A producer token of `tenantName`, which is registered in ingest's region unless `registered` is false. */
const token = async (
  tenantName: string,
  scopes: string[] = [SCOPES.writeSelf],
  extra: { ttlSeconds?: number; residency?: string[]; registered?: boolean } = {},
) => {
  const { registered = true, residency = ['us'], ...claims } = extra;
  if (registered) await register(tenantName);
  return mintDevToken(keys.privateKeyPath, { sub: `producer-${tenantName}`, tenant: tenant(tenantName), scopes, residency, ...claims });
};
const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

let nextId = 0;
const signalOf = (tenantName: string, overrides: Record<string, unknown> = {}) => ({
  tenantId: tenant(tenantName),
  source: 'checkout',
  signalId: `s-${(nextId += 1)}`,
  ts: minutesAgo(1),
  type: 'latency',
  value: 0.9,
  ...overrides,
});

interface ResponseBody {
  accepted?: number;
  deduped?: number;
  error?: { code: string; reason?: string; message?: string; issues?: { path: string; rule: string }[]; fields?: string[] };
}

async function push(
  body: unknown,
  options: { bearer?: string | undefined; headers?: Record<string, string>; base?: string; path?: string } = {},
) {
  const response = await fetch(`${options.base ?? url}${options.path ?? '/v1/signals'}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.bearer ? { authorization: `Bearer ${options.bearer}` } : {}),
      ...options.headers,
    },
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: text ? (JSON.parse(text) as ResponseBody) : undefined };
}

async function ledgerCount(tenantName: string): Promise<number> {
  const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM signal_ledger WHERE tenant_id = $1', [
    tenant(tenantName),
  ]);
  return rows[0]!.n;
}

async function securityEvents(tenantId: string) {
  await Promise.all(services.map((service) => service.flushSecurityEvents()));
  const { rows } = await admin.query<{ kind: string; reason: string; subject: string | null; details: Record<string, unknown> }>(
    'SELECT kind, reason, subject, details FROM security_events WHERE tenant_id = $1 ORDER BY id',
    [tenantId],
  );
  return rows;
}

describe('authentication and authorization', () => {
  it('accepts a token with coherence:write:self for its own tenant, 202 only with counts', async () => {
    const response = await push({ signals: [signalOf('auth-ok'), signalOf('auth-ok')] }, { bearer: await token('auth-ok') });
    expect(response.status).toBe(202);
    expect(response.json).toEqual({ accepted: 2, deduped: 0 });
    expect(await ledgerCount('auth-ok')).toBe(2);
  });

  it.each([
    ['no token', async () => undefined, 'TOKEN_MISSING'],
    ['an expired token', async () => token('auth', [SCOPES.writeSelf], { ttlSeconds: -120 }), 'TOKEN_EXPIRED'],
    [
      'a token signed by an unknown key',
      async () => {
        const other = await ensureDevKeys(join(keyDir, 'other'));
        return mintDevToken(other.privateKeyPath, { sub: 'x', tenant: tenant('auth'), scopes: [SCOPES.writeSelf], residency: [] });
      },
      'TOKEN_SIGNATURE_INVALID',
    ],
    ['a malformed token', async () => 'not.a.jwt', 'TOKEN_MALFORMED'],
  ])('refuses %s with 401 UNAUTHENTICATED and records AUTH_DENY', async (_case, makeToken, reason) => {
    const before = (await securityEvents('-')).length;
    const response = await push({ signals: [signalOf('auth')] }, { bearer: await makeToken() });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="coherence"');
    expect(response.json).toEqual({ error: { code: 'UNAUTHENTICATED', reason, message: expect.any(String) } });
    const events = await securityEvents('-');
    expect(events.slice(before)).toEqual([expect.objectContaining({ kind: 'AUTH_DENY', reason })]);
    expect(await ledgerCount('auth')).toBe(0);
  });

  it('refuses a token in the query string even alongside a valid header', async () => {
    const bearer = await token('auth');
    const response = await push({ signals: [signalOf('auth')] }, { bearer, path: `/v1/signals?access_token=${bearer}` });
    expect(response.status).toBe(401);
    expect(response.json?.['error']).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_IN_QUERY_STRING' });
    expect(await ledgerCount('auth')).toBe(0);
  });

  it('refuses a token without coherence:write:self with 403 SCOPE_MISSING', async () => {
    const response = await push({ signals: [signalOf('auth')] }, { bearer: await token('auth', [SCOPES.readSelf]) });
    expect(response.status).toBe(403);
    expect(response.json?.['error']).toMatchObject({ code: 'FORBIDDEN', reason: 'SCOPE_MISSING' });
    expect(await securityEvents(tenant('auth'))).toEqual([expect.objectContaining({ kind: 'AUTH_DENY', reason: 'SCOPE_MISSING' })]);
  });

  it('refuses a token for tenant A writing tenant B with 403 TENANT_MISMATCH, a security event, and nothing stored', async () => {
    const response = await push({ signals: [signalOf('alpha'), signalOf('beta')] }, { bearer: await token('alpha') });
    expect(response.status).toBe(403);
    expect(response.json).toEqual({ error: { code: 'FORBIDDEN', reason: 'TENANT_MISMATCH', message: expect.any(String) } });
    expect(await securityEvents(tenant('beta'))).toEqual([
      expect.objectContaining({
        kind: 'TENANT_MISMATCH',
        subject: 'producer-alpha',
        details: { tokenTenant: tenant('alpha'), foreignTenants: 1 },
      }),
    ]);
    expect(await ledgerCount('alpha')).toBe(0);
    expect(await ledgerCount('beta')).toBe(0);
  });
});

/** The `policy_decisions` rows of one request, once the recorder has written them (it flushes every 20 ms here). */
async function decisionsOf(correlationId: string) {
  const read = () =>
    admin.query<Record<string, unknown>>(
      `SELECT tenant_id, subject, client_id, operation_id, operation_type, allow, reason_code, explanation, bundle_sha256, region
         FROM policy_decisions WHERE correlation_id = $1`,
      [correlationId],
    );
  for (let waited = 0; waited < 2_000; waited += 50) {
    const { rows } = await read();
    if (rows.length > 0) return rows;
    await sleep(50);
  }
  return (await read()).rows;
}

describe('write policy: the OPA bundle decides publishSignals for the token’s tenant, every decision recorded', () => {
  const pushAs = async (tenantName: string, bearer: string) => {
    const correlationId = randomUUID();
    const response = await push({ signals: [signalOf(tenantName)] }, { bearer, headers: { 'x-request-id': correlationId } });
    return { response, decisions: await decisionsOf(correlationId) };
  };
  const decision = (tenantId: string, subject: string, allow: boolean, reasonCode: string) => ({
    tenant_id: tenantId,
    subject,
    client_id: 'dev-cli',
    operation_id: 'POST /v1/signals',
    operation_type: 'ingest',
    allow,
    reason_code: reasonCode,
    explanation: expect.any(String),
    bundle_sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    region: 'us',
  });

  it('stores a registered tenant’s batch: 202 and an ALLOWED decision under the tenant', async () => {
    const { response, decisions } = await pushAs('policy-ok', await token('policy-ok'));
    expect(response.status).toBe(202);
    expect(decisions).toEqual([decision(tenant('policy-ok'), 'producer-policy-ok', true, 'ALLOWED')]);
    expect(await ledgerCount('policy-ok')).toBe(1);
  });

  it('refuses a tenant that is not registered: 403 TENANT_UNKNOWN, the decision filed under -, nothing stored', async () => {
    const { response, decisions } = await pushAs(
      'policy-unknown',
      await token('policy-unknown', [SCOPES.writeSelf], { registered: false }),
    );
    expect(response.status).toBe(403);
    expect(response.json).toEqual({
      error: { code: 'TENANT_UNKNOWN', message: "the token's tenant is not registered; nothing was stored" },
    });
    expect(decisions).toEqual([decision('-', 'producer-policy-unknown', false, 'TENANT_UNKNOWN')]);
    expect(decisions[0]!['explanation']).toBe(`tenant ${tenant('policy-unknown')} is not registered, so nothing may be written for it`);
    expect(await ledgerCount('policy-unknown')).toBe(0);
  });

  it('refuses a tenant residing in another region: 403 RESIDENCY_VIOLATION, the decision under the tenant, nothing stored', async () => {
    await register('policy-eu', 'eu');
    // The token may act in both regions: what refuses the write is where the tenant's data must stay.
    const bearer = await token('policy-eu', [SCOPES.writeSelf], { registered: false, residency: ['us', 'eu'] });
    const { response, decisions } = await pushAs('policy-eu', bearer);
    expect(response.status).toBe(403);
    expect(response.json).toEqual({
      error: { code: 'FORBIDDEN', reason: 'RESIDENCY_VIOLATION', message: 'denied by policy: RESIDENCY_VIOLATION; nothing was stored' },
    });
    expect(decisions).toEqual([decision(tenant('policy-eu'), 'producer-policy-eu', false, 'RESIDENCY_VIOLATION')]);
    expect(decisions[0]!['explanation']).toBe(`tenant ${tenant('policy-eu')} resides in eu, not in us`);
    expect(await ledgerCount('policy-eu')).toBe(0);
  });

  it('refuses a token whose residency claim does not include this region, though its tenant resides here', async () => {
    const { response, decisions } = await pushAs('policy-claim', await token('policy-claim', [SCOPES.writeSelf], { residency: ['eu'] }));
    expect(response.status).toBe(403);
    expect(response.json?.error).toMatchObject({ code: 'FORBIDDEN', reason: 'RESIDENCY_VIOLATION' });
    expect(decisions).toEqual([decision(tenant('policy-claim'), 'producer-policy-claim', false, 'RESIDENCY_VIOLATION')]);
    expect(await ledgerCount('policy-claim')).toBe(0);
  });

  it('counts decisions by transport and reason code', async () => {
    const body = (await fetch(`${adminUrl}/metrics`).then((r) => r.text())).split('\n');
    const count = (reasonCode: string) =>
      Number(body.find((l) => l.startsWith(`ingest_write_decisions_total{transport="http",reason_code="${reasonCode}"}`))?.split(' ')[1]);
    expect(count('TENANT_UNKNOWN')).toBeGreaterThanOrEqual(1);
    expect(count('RESIDENCY_VIOLATION')).toBeGreaterThanOrEqual(2);
    expect(count('ALLOWED')).toBeGreaterThanOrEqual(1);
  });
});

describe('bad input: 400 INVALID_SIGNAL naming each field and rule, nothing stored', () => {
  const inFuture = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();
  it.each([
    ['an unknown field', { colour: 'red' }, 'signals[0].colour', 'unknown_field'],
    ['a wrongly typed value', { value: 'high' }, 'signals[0].value', 'type'],
    ['a value above 1', { value: 1.5 }, 'signals[0].value', 'max'],
    ['a value below 0', { value: -0.1 }, 'signals[0].value', 'min'],
    ['a zero weight', { weight: 0 }, 'signals[0].weight', 'positive'],
    ['a negative weight', { weight: -2 }, 'signals[0].weight', 'positive'],
    ['a ts that is not ISO-8601', { ts: 'yesterday' }, 'signals[0].ts', 'format'],
    ['a ts without a zone', { ts: '2026-11-24T12:00:00' }, 'signals[0].ts', 'format'],
    ['a ts more than 5 minutes in the future', { ts: inFuture(6) }, 'signals[0].ts', 'not_future'],
    ['a missing field', { source: undefined }, 'signals[0].source', 'required'],
    [
      'an unknown provenance field',
      { provenance: { purpose: 'p', retention: 'r', license: 'l', residency: 'us', x: 1 } },
      'signals[0].provenance.x',
      'unknown_field',
    ],
  ])('%s', async (_case, overrides, path, rule) => {
    const response = await push({ signals: [signalOf('bad', overrides)] }, { bearer: await token('bad') });
    expect(response.status).toBe(400);
    expect(response.json?.['error']).toMatchObject({ code: 'INVALID_SIGNAL', issues: [expect.objectContaining({ path, rule })] });
    expect(await ledgerCount('bad')).toBe(0);
  });

  it('accepts a ts up to 5 minutes ahead', async () => {
    const response = await push({ signals: [signalOf('skew', { ts: inFuture(4) })] }, { bearer: await token('skew') });
    expect(response.status).toBe(202);
  });

  it.each([
    ['no signals', { signals: [] }, 'signals', 'too_few'],
    ['more signals than a batch may hold', { signals: Array.from({ length: 1_001 }, () => ({})) }, 'signals', 'too_many'],
    ['an unknown top-level field', { signals: [], extra: true }, 'extra', 'unknown_field'],
    ['a body that is not an object', [1, 2], '', 'type'],
  ])('refuses a batch with %s', async (_case, body, path, rule) => {
    const response = await push(body, { bearer: await token('bad') });
    expect(response.status).toBe(400);
    expect(response.json?.['error']?.['issues']).toContainEqual(expect.objectContaining({ path, rule }));
  });

  it('is all-or-nothing: one bad signal among good ones stores none, and every problem is listed', async () => {
    const body = { signals: [signalOf('bad'), signalOf('bad', { value: 2 }), signalOf('bad'), signalOf('bad', { weight: 0, extra: 1 })] };
    const response = await push(body, { bearer: await token('bad') });
    expect(response.status).toBe(400);
    expect(response.json?.['error']?.['issues']!.map((i: { path: string }) => i.path).sort()).toEqual([
      'signals[1].value',
      'signals[3].extra',
      'signals[3].weight',
    ]);
    expect(await ledgerCount('bad')).toBe(0);
  });

  it('answers 413 for a body over the configured size', async () => {
    const signals = Array.from({ length: 600 }, () => signalOf('big', { type: 'x'.repeat(100) }));
    const response = await push({ signals }, { bearer: await token('big') });
    expect(response.status).toBe(413);
    expect(response.json?.['error']?.['code']).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers 415 for a body that is not JSON, and 400 for malformed or empty JSON', async () => {
    const bearer = await token('bad');
    expect((await push('value=1', { bearer, headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    expect((await push('value=1', { bearer, headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status).toBe(415);
    const malformed = await push('{"signals": [', { bearer });
    expect(malformed.status).toBe(400);
    expect(malformed.json?.['error']?.['code']).toBe('MALFORMED_JSON');
    const empty = await push('', { bearer });
    expect(empty.status).toBe(400);
    expect(empty.json?.['error']?.['code']).toBe('EMPTY_BODY');
  });

  it('does not even read the body of an unauthenticated request', async () => {
    const response = await push('{"signals": [', {});
    expect(response.status).toBe(401);
  });
});

describe('values the stores cannot keep: 400 INVALID_SIGNAL with the rule, never a 500, nothing stored', () => {
  // JSON.stringify writes a lone surrogate as the escape \ud800 and NUL as \u0000, so the server's JSON.parse
  // gets exactly those characters back; that is how a producer's JSON encoder sends them too.
  it.each([
    ['a NUL', 'source', 'check\u0000out'],
    ['a NUL', 'type', '\u0000'],
    ['a NUL', 'signalId', 's-\u0000'],
    ['a lone high surrogate', 'source', 'check\ud800'],
    ['a lone high surrogate', 'type', '\ud800'],
    ['a lone low surrogate', 'signalId', '\udc00-s'],
  ])('%s in %s', async (_case, field, text) => {
    const body = JSON.stringify({ signals: [signalOf('odd'), signalOf('odd', { [field]: text })] });
    expect(body).toMatch(/\\u(0000|d800|dc00)/);
    const response = await push(body, { bearer: await token('odd') });
    expect(response.status).toBe(400);
    expect(response.json).toEqual({
      error: {
        code: 'INVALID_SIGNAL',
        message: expect.any(String),
        issues: [{ path: `signals[1].${field}`, rule: 'storable_string', message: expect.any(String) }],
      },
    });
    expect(await ledgerCount('odd')).toBe(0);
  });

  it('refuses them with an Idempotency-Key too (the key path keeps the body in jsonb), and in provenance and field names', async () => {
    const bearer = await token('odd');
    const provenance = { purpose: 'p\u0000', retention: 'r', license: 'l', residency: '\ud800' };
    const body = JSON.stringify({ signals: [signalOf('odd', { provenance, 'colour\u0000': 'red' })] });
    const response = await push(body, { bearer, headers: { 'idempotency-key': 'odd-1' } });
    expect(response.status).toBe(400);
    expect(response.json?.error?.issues).toEqual([
      expect.objectContaining({ path: 'signals[0].provenance.purpose', rule: 'storable_string' }),
      expect.objectContaining({ path: 'signals[0].provenance.residency', rule: 'storable_string' }),
      expect.objectContaining({ path: 'signals[0]["colour\\u0000"]', rule: 'unknown_field' }),
    ]);
    expect(await ledgerCount('odd')).toBe(0);
  });

  it('stores what a UTF-8 encoder makes of a lone surrogate (U+FFFD) and other non-ASCII text exactly as sent', async () => {
    // The control for the cases above: the same request without the lone surrogate is fine.
    const sent = [
      signalOf('odd-ok', { source: 'check\ufffd', signalId: 'caf\u00e9' }),
      signalOf('odd-ok', { source: 'check\ufffd', signalId: 'cafe\u0301', type: '😀' }),
    ];
    expect((await push({ signals: sent }, { bearer: await token('odd-ok') })).status).toBe(202);
    const { rows } = await admin.query<{ source: string; signal_id: string; type: string }>(
      'SELECT source, signal_id, type FROM signal_ledger WHERE tenant_id = $1',
      [tenant('odd-ok')],
    );
    // Sorted here, by code unit: how a database collation orders é against e + U+0301 varies.
    expect(rows.sort((x, y) => (x.signal_id < y.signal_id ? -1 : 1))).toEqual([
      { source: 'check\ufffd', signal_id: 'cafe\u0301', type: '😀' },
      { source: 'check\ufffd', signal_id: 'caf\u00e9', type: 'latency' },
    ]);
  });

  it('refuses a body that is not UTF-8 instead of storing U+FFFD for the bytes', async () => {
    const body = Buffer.from(JSON.stringify({ signals: [signalOf('odd', { source: 'check#out' })] }));
    body[body.indexOf('#')] = 0xff;
    const response = await push(body, { bearer: await token('odd') });
    expect(response.status).toBe(400);
    expect(response.json).toEqual({ error: { code: 'MALFORMED_JSON', message: 'the body is not valid UTF-8' } });
    expect(await ledgerCount('odd')).toBe(0);
  });

  it.each([
    ['year 0000', '0000-01-01T00:00:00Z'],
    ['an offset of +23:59', '2026-11-24T12:00:00+23:59'],
    ['an offset of -16:00', '2026-11-24T12:00:00-16:00'],
  ])('refuses a ts the ISO grammar allows and Postgres does not (%s) with rule storable_instant, not a 500', async (_case, ts) => {
    const response = await push({ signals: [signalOf('instant', { ts })] }, { bearer: await token('instant') });
    expect(response.status).toBe(400);
    expect(response.json?.error?.issues).toEqual([{ path: 'signals[0].ts', rule: 'storable_instant', message: expect.any(String) }]);
    expect(await ledgerCount('instant')).toBe(0);
  });

  it('stores the extremes Postgres does take: year 0001 and an offset of ±15:59', async () => {
    const sent = ['0001-01-01T00:00:00Z', '2026-11-24T12:00:00+15:59', '2026-11-24T12:00:00-15:59'].map((ts) =>
      signalOf('instant-ok', { ts }),
    );
    expect((await push({ signals: sent }, { bearer: await token('instant-ok') })).status).toBe(202);
    expect(await ledgerCount('instant-ok')).toBe(3);
  });

  it('refuses the overflowing batch of issue 12 (two weights of 1e308) with rule max, and accepts the bounds', async () => {
    const bearer = await token('heavy');
    const heavy = await push(
      { signals: [signalOf('heavy', { weight: 1e308 }), signalOf('heavy', { weight: 1e308, value: 0.5 })] },
      { bearer },
    );
    expect(heavy.status).toBe(400);
    expect(heavy.json?.error?.issues).toEqual([
      expect.objectContaining({ path: 'signals[0].weight', rule: 'max' }),
      expect.objectContaining({ path: 'signals[1].weight', rule: 'max' }),
    ]);
    const tiny = await push({ signals: [signalOf('heavy', { weight: 1e-7 })] }, { bearer });
    expect(tiny.json?.error?.issues).toEqual([expect.objectContaining({ path: 'signals[0].weight', rule: 'min' })]);
    expect(await ledgerCount('heavy')).toBe(0);
    const bounds = await push({ signals: [signalOf('heavy', { weight: 1e6 }), signalOf('heavy', { weight: 1e-6 })] }, { bearer });
    expect(bounds.status).toBe(202);
    expect(await ledgerCount('heavy')).toBe(2);
  });
});

describe('provenance and dedupe', () => {
  it('attaches the configured defaults when absent and keeps the producer’s own', async () => {
    const own = { purpose: 'billing', retention: 'P7D', license: 'cc-by', residency: 'eu' };
    const body = { signals: [signalOf('prov', { signalId: 'default' }), signalOf('prov', { signalId: 'own', provenance: own })] };
    expect((await push(body, { bearer: await token('prov') })).status).toBe(202);
    const { rows } = await admin.query<{ signal_id: string; provenance: unknown }>(
      'SELECT signal_id, provenance FROM signal_ledger WHERE tenant_id = $1 ORDER BY signal_id',
      [tenant('prov')],
    );
    expect(rows).toEqual([
      { signal_id: 'default', provenance: { purpose: 'operations', retention: 'P30D', license: 'internal', residency: 'us' } },
      { signal_id: 'own', provenance: own },
    ]);
  });

  it('counts a repeated key as deduped, also when ts is the same instant written differently', async () => {
    const first = signalOf('dedupe', { ts: '2026-11-24T10:00:00Z' });
    const bearer = await token('dedupe');
    expect((await push({ signals: [first] }, { bearer })).json).toEqual({ accepted: 1, deduped: 0 });
    const again = { signals: [{ ...first, ts: '2026-11-24T11:00:00+01:00' }, first] };
    expect((await push(again, { bearer })).json).toEqual({ accepted: 0, deduped: 2 });
    expect(await ledgerCount('dedupe')).toBe(1);
  });
});

describe('outbox', () => {
  it('writes one event per stored batch in the contract’s shape, carrying only the newly stored signals', async () => {
    const bearer = await token('outbox');
    const old = signalOf('outbox', { ts: '2026-11-24T09:00:00Z' });
    expect((await push({ signals: [old] }, { bearer })).status).toBe(202);
    const fresh = signalOf('outbox', { weight: 2, ts: '2026-11-24T09:30:00+01:00' });
    expect((await push({ signals: [old, fresh] }, { bearer })).json).toEqual({ accepted: 1, deduped: 1 });
    expect((await push({ signals: [old, fresh] }, { bearer })).json).toEqual({ accepted: 0, deduped: 2 });
    const { rows } = await admin.query<{ envelope: unknown }>('SELECT envelope FROM outbox WHERE tenant_id = $1 ORDER BY id', [
      tenant('outbox'),
    ]);
    expect(rows).toHaveLength(2);
    const events = rows.map((row) => validate(outboxEventSchema, row.envelope));
    expect(events.map((e) => e.ok)).toEqual([true, true]);
    const second = events[1]!.ok ? events[1]!.value : undefined;
    expect(second?.payload.signals).toEqual([
      expect.objectContaining({
        signalId: fresh.signalId,
        weight: 2,
        value: 0.9,
        provenance: expect.objectContaining({ purpose: 'operations' }),
      }),
    ]);
    expect(Date.parse(second!.payload.signals[0]!.ts)).toBe(Date.parse('2026-11-24T08:30:00Z'));
  });
});

describe('Idempotency-Key', () => {
  it('replays the stored first response byte for byte, without storing again', async () => {
    const bearer = await token('idem');
    const body = { signals: [signalOf('idem'), signalOf('idem')] };
    const first = await push(body, { bearer, headers: { 'idempotency-key': 'key-1' } });
    expect(first.status).toBe(202);
    // Between the two, the same signals arrive without the key: the replay must not become {accepted:0,deduped:2}.
    expect((await push(body, { bearer })).json).toEqual({ accepted: 0, deduped: 2 });
    const replay = await push(JSON.stringify(body, null, 2), { bearer, headers: { 'idempotency-key': 'key-1' } });
    expect(replay.status).toBe(202);
    expect(replay.text).toBe(first.text);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await ledgerCount('idem')).toBe(2);
  });

  it('answers 409 IDEMPOTENCY_MISMATCH listing the differing fields when the body changed', async () => {
    const bearer = await token('idem');
    const original = { signals: [signalOf('idem'), signalOf('idem')] };
    expect((await push(original, { bearer, headers: { 'idempotency-key': 'key-2' } })).status).toBe(202);
    const changed = {
      signals: [
        { ...original.signals[0]!, value: 0.1 },
        { ...original.signals[1]!, weight: 3 },
      ],
    };
    const response = await push(changed, { bearer, headers: { 'idempotency-key': 'key-2' } });
    expect(response.status).toBe(409);
    expect(response.json).toEqual({
      error: { code: 'IDEMPOTENCY_MISMATCH', message: expect.any(String), fields: ['signals[0].value', 'signals[1].weight'] },
    });
  });

  it('stores a batch once when retries with the same key race each other', async () => {
    const bearer = await token('race');
    const body = { signals: Array.from({ length: 20 }, () => signalOf('race')) };
    const responses = await Promise.all(Array.from({ length: 8 }, () => push(body, { bearer, headers: { 'idempotency-key': 'race' } })));
    expect(new Set(responses.map((r) => `${r.status} ${r.text}`))).toEqual(new Set(['202 {"accepted":20,"deduped":0}']));
    const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE tenant_id = $1', [tenant('race')]);
    expect(rows[0]!.n).toBe(1);
  });

  it('scopes keys per tenant, and refuses an unusable key', async () => {
    const headers = { 'idempotency-key': 'shared' };
    expect((await push({ signals: [signalOf('k1')] }, { bearer: await token('k1'), headers })).status).toBe(202);
    expect((await push({ signals: [signalOf('k2')] }, { bearer: await token('k2'), headers })).status).toBe(202);
    const bad = await push({ signals: [signalOf('k1')] }, { bearer: await token('k1'), headers: { 'idempotency-key': 'x'.repeat(300) } });
    expect(bad.status).toBe(400);
    expect(bad.json?.['error']?.['code']).toBe('INVALID_IDEMPOTENCY_KEY');
  });

  it('forgets a key after INGEST_IDEMPOTENCY_TTL_HOURS: a retry then goes to the ledger, which dedupes it', async () => {
    const bearer = await token('ttl');
    const headers = { 'idempotency-key': 'ttl-1' };
    const original = signalOf('ttl');
    expect((await push({ signals: [original] }, { bearer, headers })).json).toEqual({ accepted: 1, deduped: 0 });
    const age = (hours: number) =>
      admin.query(`UPDATE idempotency_keys SET created_at = now() - make_interval(hours => $2) WHERE tenant_id = $1`, [
        tenant('ttl'),
        hours,
      ]);
    await age(25);
    // Expired but not yet deleted: treated as absent, and replaced.
    expect((await push({ signals: [{ ...original, value: 0.1 }] }, { bearer, headers })).json).toEqual({ accepted: 0, deduped: 1 });
    await age(25);
    const appPool = createPgPool(database.urls.ingest);
    try {
      expect(await expireIdempotencyKeys(appPool, 24)).toBe(1);
    } finally {
      await appPool.end();
    }
    const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM idempotency_keys WHERE tenant_id = $1', [
      tenant('ttl'),
    ]);
    expect(rows[0]!.n).toBe(0);
  });

  it('does not store a refused batch under the key, so a corrected retry goes through', async () => {
    const bearer = await token('fix');
    const headers = { 'idempotency-key': 'fix-1' };
    expect((await push({ signals: [signalOf('fix', { value: 7 })] }, { bearer, headers })).status).toBe(400);
    expect((await push({ signals: [signalOf('fix')] }, { bearer, headers })).status).toBe(202);
  });
});

describe('per-tenant limiter', () => {
  it('answers 429 with Retry-After over the tenant’s share, never a 5xx, and leaves other tenants alone', async () => {
    const bearer = await token('busy');
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 6; i += 1) {
      const response = await push({ signals: [signalOf('busy')] }, { bearer, base: throttledUrl });
      statuses.push(response.status);
      if (response.status === 429) {
        retryAfter = response.headers.get('retry-after');
        expect(response.json?.['error']?.['code']).toBe('RATE_LIMITED');
      }
    }
    expect(statuses.slice(0, 3)).toEqual([202, 202, 202]);
    expect(statuses.slice(3)).toEqual([429, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(await ledgerCount('busy')).toBe(3);
    expect((await push({ signals: [signalOf('calm')] }, { bearer: await token('calm'), base: throttledUrl })).status).toBe(202);
  });
});

describe('refusal throttle per address', () => {
  it('answers 429 before verifying the token once an address has earned its burst of refusals, and charges no accepted push', async () => {
    const throttled = await startIngest({ INGEST_ADDRESS_REFUSAL_BURST: '3', INGEST_ADDRESS_REFUSALS_PER_SECOND: '0.1' });
    const bearer = await token('throttle');
    for (let i = 0; i < 5; i += 1)
      expect((await push({ signals: [signalOf('throttle')] }, { bearer, base: throttled.url })).status).toBe(202);
    const refused = [];
    for (let i = 0; i < 5; i += 1) {
      refused.push(
        await push(
          { signals: [signalOf('throttle')] },
          { bearer: 'not.a.jwt', base: throttled.url, headers: { 'x-request-id': `throttle-${i}` } },
        ),
      );
    }
    expect(refused.map((response) => response.status)).toEqual([401, 401, 401, 429, 429]);
    expect(refused[3]!.json?.['error']?.['code']).toBe('RATE_LIMITED');
    expect(Number(refused[3]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // While the bucket refills, the address's valid pushes wait too: the throttle runs before the token is read.
    expect((await push({ signals: [signalOf('throttle')] }, { bearer, base: throttled.url })).status).toBe(429);
    await Promise.all(services.map((service) => service.flushSecurityEvents()));
    const { rows } = await admin.query<{ correlation_id: string }>(
      `SELECT correlation_id FROM security_events WHERE correlation_id LIKE 'throttle-%' ORDER BY correlation_id`,
    );
    expect(rows.map((row) => row.correlation_id)).toEqual(['throttle-0', 'throttle-1', 'throttle-2']);
    expect(await (await fetch(`${throttled.adminUrl}/metrics`)).text()).toMatch(/ingest_refusal_throttled_total 3\b/);
    expect(await ledgerCount('throttle')).toBe(5);
  });
});

describe('metrics', () => {
  it('exposes processed and deduped counters by transport, the backlog and its age, and request durations', async () => {
    const text = await (await fetch(`${adminUrl}/metrics`)).text();
    expect(text).toMatch(/ingest_events_processed_total\{transport="http"\} [1-9]/);
    expect(text).toMatch(/ingest_signals_deduped_total\{transport="http"\} [1-9]/);
    expect(text).toMatch(/^ingest_tenant_signals_total\{tenant="[^"]+"\} [1-9]/m);
    expect(text).toMatch(/ingest_backlog [1-9]/);
    // No relay runs here: the oldest pending event was written by an earlier test, so it has an age.
    expect(Number(/^ingest_outbox_lag_seconds (\S+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    expect(text).toContain('ingest_store_duration_seconds_bucket');
    expect(text).toMatch(/http_request_duration_seconds_count\{method="POST",route="\/v1\/signals",status="202"\}/);
  });

  // Issue 14: /readyz and /metrics answered on the port exposed to producers.
  it('serves /readyz and /metrics on the admin listener only: the producers’ and the subgraph’s answer 404', async () => {
    const statuses = async (base: string) =>
      Promise.all(['/healthz', '/readyz', '/metrics'].map(async (path) => (await fetch(`${base}${path}`)).status));
    expect(await statuses(url)).toEqual([200, 404, 404]);
    expect(await statuses(subgraphUrl)).toEqual([200, 404, 404]);
    expect(await statuses(adminUrl)).toEqual([200, 200, 200]);
    expect(await (await fetch(`${adminUrl}/readyz`)).json()).toEqual({ status: 'ready', checks: [{ name: 'postgres', ok: true }] });
  });
});
