import { createPgPool, type PgPool } from '@coherence/platform';
import { DEV_ISSUER, devArtifactSigningKeyPath, ensureDevKeys, mintDevToken, readArtifactSigningKey } from '@coherence/auth';
import { costsPathFor, signManifest } from '@coherence/persisted-queries';
import costs from '@coherence/persisted-queries/costs.json' with { type: 'json' };
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createTestDatabase, freePort, type TestDatabase } from '@coherence/devservices';
import { startApplication } from './support/startApplication';
import { spawnManaged, waitUntilHealthy } from '@coherence/devservices/managedProcess';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * Gateway security over the real stack: for each (token, operation,
 * variables) the expected HTTP status, error code, reason code, and the rows
 * it leaves behind (a policy decision, a security event).
 */
const operationId = (name: string) => manifest.operations.findLast((op) => op.name === name)!.id;
const tenantCoherenceId = operationId('TenantCoherence');
const bundleSha256 = (JSON.parse(readFileSync(new URL('../policy/bundle/manifest.json', import.meta.url), 'utf8')) as { sha256: string })
  .sha256;

const workDir = mkdtempSync(join(tmpdir(), 'coherence-security-'));
/** The gateway runs a copy of the manifest and its cost table, so the hot-reload test can change them (and sign them again, as `pq` does). */
const manifestPath = join(workDir, 'manifest.json');
const signCopy = () => signManifest(manifestPath, readArtifactSigningKey(devArtifactSigningKeyPath));
let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
let admin: PgPool;

const tenant = (name: string) => `${database.namespace}-${name}`;

beforeAll(async () => {
  writeFileSync(manifestPath, JSON.stringify(manifest));
  writeFileSync(costsPathFor(manifestPath), JSON.stringify(costs));
  await signCopy();
  database = await createTestDatabase(inject('services'));
  app = await startApplication(inject('services'), database, { gatewayEnv: { GATEWAY_MANIFEST_PATH: manifestPath } });
  admin = createPgPool(database.adminUrl);
  await app.registerTenant(tenant('acme'), 'us');
  await app.registerTenant(tenant('globex'), 'us');
  await app.registerTenant(tenant('hooli'), 'eu');
});

afterAll(async () => {
  await app?.stop();
  await admin?.end();
  await database?.drop();
  rmSync(workDir, { recursive: true, force: true });
});

interface GraphQLResponse {
  data?: Record<string, unknown>;
  errors?: { extensions: { code: string; reasonCode?: string } }[];
}

async function post(body: unknown, headers: Record<string, string>, path = '/graphql') {
  const response = await fetch(`${app.gatewayUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as GraphQLResponse, headers: response.headers };
}

const readCoherence = (tenantId: string, operationId = tenantCoherenceId) => ({
  extensions: { persistedQuery: { version: 1, sha256Hash: operationId } },
  variables: { tenantId },
});

/**
 * The gateway's correlation id is the trace id it continues or starts, never
 * the client's `x-request-id` (issue 13, item 9): a test that must find its
 * rows sends a `traceparent` whose trace id it knows.
 */
const newTraceId = () => randomBytes(16).toString('hex');
const continuing = (traceId: string) => ({ traceparent: `00-${traceId}-${'a'.repeat(16)}-01` });

/** Rows are written off the request path; wait until they land. */
async function rowsFor<T extends pg.QueryResultRow>(sql: string, correlationId: string, expected = 1): Promise<T[]> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const { rows } = await admin.query<T>(sql, [correlationId]);
    if (rows.length >= expected) return rows;
    await sleep(50);
  }
  return (await admin.query<T>(sql, [correlationId])).rows;
}

const decisionRows = (correlationId: string) =>
  rowsFor<{
    tenant_id: string;
    subject: string;
    allow: boolean;
    reason_code: string;
    operation_id: string;
    bundle_sha256: string | null;
    region: string;
  }>(
    'SELECT tenant_id, subject, allow, reason_code, operation_id, bundle_sha256, region FROM policy_decisions WHERE correlation_id = $1',
    correlationId,
  );

const securityEventRows = (correlationId: string, expected = 1) =>
  rowsFor<{ kind: string; tenant_id: string; reason: string; source_ip: string | null; subject: string | null }>(
    'SELECT kind, tenant_id, reason, source_ip, subject FROM security_events WHERE correlation_id = $1',
    correlationId,
    expected,
  );

interface TokenSpec {
  tenant: string;
  scopes: string[];
  residency?: string[];
}

/** The gateway as its own process (`gateway/src/main.ts`) over the test application, plus `env`. */
function spawnGatewayProcess(logFile: string, env: Record<string, string>) {
  return spawnManaged({
    name: 'gateway',
    command: process.execPath,
    args: ['--import', 'tsx', fileURLToPath(new URL('../gateway/src/main.ts', import.meta.url))],
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: {
      ...process.env,
      ...app.subgraphUrls,
      GATEWAY_DATABASE_URL: database.urls.gateway,
      GATEWAY_REGION: 'us',
      GATEWAY_JWKS: app.jwksPath,
      GATEWAY_TOKEN_ISSUERS: DEV_ISSUER,
      GATEWAY_INTERNAL_SIGNING_KEY: app.internalKeys.privateKeyPath,
      GATEWAY_ADMIN_PORT: '0',
      ...env,
    },
    logFile,
  });
}

describe('authorization table: token × operation × variables', () => {
  interface AuthorizationCase {
    name: string;
    /** A persisted operation taking `$tenantId`; default TenantCoherence. */
    operation?: string;
    token: TokenSpec;
    /** The tenant the variables name (namespaced). */
    target: string;
    status: number;
    code?: string;
    reasonCode: string;
    /** Where the decision (and event) is filed when not under the target: '-' for a target nobody registered. */
    filedUnder?: string;
  }
  const cases: AuthorizationCase[] = [
    {
      name: 'Signals: read:self reads another tenant',
      operation: 'Signals',
      token: { tenant: 'acme', scopes: ['coherence:read:self'] },
      target: 'globex',
      status: 403,
      code: 'FORBIDDEN',
      reasonCode: 'TENANT_MISMATCH',
    },
    {
      name: 'Signals: operator reads an eu tenant through the us gateway',
      operation: 'Signals',
      token: { tenant: 'ops', scopes: ['coherence:read'], residency: ['us', 'eu'] },
      target: 'hooli',
      status: 403,
      code: 'FORBIDDEN',
      reasonCode: 'RESIDENCY_VIOLATION',
    },
    {
      name: 'read:self reads its own tenant',
      token: { tenant: 'acme', scopes: ['coherence:read:self'] },
      target: 'acme',
      status: 200,
      reasonCode: 'ALLOWED',
    },
    {
      name: 'read:self reads another tenant',
      token: { tenant: 'acme', scopes: ['coherence:read:self'] },
      target: 'globex',
      status: 403,
      code: 'FORBIDDEN',
      reasonCode: 'TENANT_MISMATCH',
    },
    {
      name: 'operator reads any tenant',
      token: { tenant: 'ops', scopes: ['coherence:read'] },
      target: 'globex',
      status: 200,
      reasonCode: 'ALLOWED',
    },
    {
      name: 'a write-only token reads',
      token: { tenant: 'acme', scopes: ['coherence:write:self'] },
      target: 'acme',
      status: 403,
      code: 'FORBIDDEN',
      reasonCode: 'SCOPE_MISSING',
    },
    {
      name: 'operator reads an eu tenant through the us gateway',
      token: { tenant: 'ops', scopes: ['coherence:read'], residency: ['us', 'eu'] },
      target: 'hooli',
      status: 403,
      code: 'FORBIDDEN',
      reasonCode: 'RESIDENCY_VIOLATION',
    },
    {
      name: 'operator reads an unregistered tenant (fail closed, filed under -)',
      token: { tenant: 'ops', scopes: ['coherence:read'] },
      target: 'nobody',
      status: 403,
      code: 'FORBIDDEN',
      reasonCode: 'RESIDENCY_VIOLATION',
      filedUnder: '-',
    },
    {
      name: 'a token that may only read from eu, at the us gateway',
      token: { tenant: 'acme', scopes: ['coherence:read:self'], residency: ['eu'] },
      target: 'acme',
      status: 403,
      code: 'FORBIDDEN',
      reasonCode: 'RESIDENCY_VIOLATION',
    },
  ];

  it.each(cases)(
    '$name → $status $reasonCode',
    async ({ operation = 'TenantCoherence', token: spec, target, status, code, reasonCode, filedUnder }) => {
      const correlationId = newTraceId();
      const tenantId = () => tenant(target);
      const fileTenant = filedUnder ?? tenantId();
      const token = await app.mintToken({ tenant: tenant(spec.tenant), scopes: spec.scopes, residency: spec.residency ?? ['us'] });
      const response = await post(readCoherence(tenantId(), operationId(operation)), {
        authorization: `Bearer ${token}`,
        ...continuing(correlationId),
      });

      expect(response.status).toBe(status);
      if (code === undefined) {
        expect(response.body.errors).toBeUndefined();
        expect(response.body.data?.['tenantCoherence']).toMatchObject({ tenantId: tenantId() });
      } else {
        expect(response.body.data).toBeUndefined();
        expect(response.body.errors?.[0]?.extensions).toEqual({ code, reasonCode });
      }
      expect(await decisionRows(correlationId)).toEqual([
        {
          tenant_id: fileTenant,
          subject: 'test-user',
          allow: reasonCode === 'ALLOWED',
          reason_code: reasonCode,
          operation_id: operationId(operation),
          bundle_sha256: bundleSha256,
          region: 'us',
        },
      ]);
      const isSecurityEvent = reasonCode === 'TENANT_MISMATCH' || reasonCode === 'RESIDENCY_VIOLATION';
      const events = await securityEventRows(correlationId, isSecurityEvent ? 1 : 0);
      if (isSecurityEvent) {
        expect(events).toEqual([expect.objectContaining({ kind: reasonCode, tenant_id: fileTenant, subject: 'test-user' })]);
      } else {
        expect(events).toEqual([]);
      }
    },
  );
});

describe('authentication', () => {
  const foreignKeysDir = () => join(workDir, 'foreign-keys');
  interface AuthenticationCase {
    name: string;
    headers: () => Promise<Record<string, string>>;
    reasonCode: string;
    path?: string;
  }
  const cases: AuthenticationCase[] = [
    { name: 'no token', headers: async () => ({}), reasonCode: 'TOKEN_MISSING' },
    { name: 'a token that is not a JWT', headers: async () => ({ authorization: 'Bearer not-a-jwt' }), reasonCode: 'TOKEN_MALFORMED' },
    {
      name: 'an expired token',
      headers: async () => ({
        authorization: `Bearer ${await app.mintToken({ tenant: tenant('acme'), scopes: ['coherence:read:self'], ttlSeconds: -120 })}`,
      }),
      reasonCode: 'TOKEN_EXPIRED',
    },
    {
      name: 'a token for another audience',
      headers: async () => ({
        authorization: `Bearer ${await app.mintToken({ tenant: tenant('acme'), scopes: ['coherence:read:self'], audience: 'other' })}`,
      }),
      reasonCode: 'TOKEN_AUDIENCE_INVALID',
    },
    {
      name: 'a token signed by a key the gateway does not trust',
      headers: async () => {
        const foreign = await ensureDevKeys(foreignKeysDir());
        const claims = { sub: 'mallory', tenant: tenant('acme'), scopes: ['coherence:read'], residency: ['us'] };
        return { authorization: `Bearer ${await mintDevToken(foreign.privateKeyPath, claims)}` };
      },
      reasonCode: 'TOKEN_SIGNATURE_INVALID',
    },
    {
      // Signed by the trusted key, but a subject no audit row or subgraph header may carry: was a 500 (ZodError), issue 12.
      name: 'a signed token with a 300-character sub',
      headers: async () => ({
        authorization: `Bearer ${await app.mintToken({ sub: 'u'.repeat(300), tenant: tenant('acme'), scopes: ['coherence:read:self'] })}`,
      }),
      reasonCode: 'TOKEN_CLAIMS_INVALID',
    },
    {
      name: 'a signed token whose tenant claim is not a tenant id',
      headers: async () => ({
        authorization: `Bearer ${await app.mintToken({ tenant: 'ac me', scopes: ['coherence:read:self'] })}`,
      }),
      reasonCode: 'TOKEN_CLAIMS_INVALID',
    },
    {
      name: 'a token in the query string',
      headers: async () => ({}),
      reasonCode: 'TOKEN_IN_QUERY_STRING',
      path: '/graphql?access_token=abc.def.ghi',
    },
  ];

  it.each(cases)('$name → 401 UNAUTHENTICATED $reasonCode, an AUTH_DENY event, no decision', async ({ headers, reasonCode, path }) => {
    const correlationId = newTraceId();
    const response = await post(readCoherence(tenant('acme')), { ...(await headers()), ...continuing(correlationId) }, path);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('Bearer');
    expect(response.body.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED', reasonCode });
    expect(await securityEventRows(correlationId)).toEqual([
      { kind: 'AUTH_DENY', tenant_id: '-', reason: reasonCode, source_ip: '127.0.0.1', subject: null },
    ]);
    await app.gateway.flushDecisions();
    expect(await admin.query('SELECT 1 FROM policy_decisions WHERE correlation_id = $1', [correlationId])).toMatchObject({ rowCount: 0 });
  });

  it("files refusals under the gateway's own correlation id, with the client's x-request-id beside it (issue 13, item 9)", async () => {
    const clientRequestId = `client-chosen-${randomUUID()}`;
    const response = await post(readCoherence(tenant('acme')), { 'x-request-id': clientRequestId });
    expect(response.status).toBe(401);
    const byClientId = (kind: string) =>
      rowsFor<{ correlation_id: string }>(
        `SELECT correlation_id FROM security_events WHERE kind = '${kind}' AND details->>'clientRequestId' = $1`,
        clientRequestId,
      );
    const [denied] = await byClientId('AUTH_DENY');
    expect(denied?.correlation_id).toMatch(/^[0-9a-f]{32}$/);

    const token = await app.mintToken({ tenant: tenant('acme'), scopes: ['coherence:read:self'] });
    expect((await post({ query: '{ __typename }' }, { authorization: `Bearer ${token}`, 'x-request-id': clientRequestId })).status).toBe(
      400,
    );
    const [refused] = await byClientId('REQUEST_REFUSED');
    expect(refused?.correlation_id).toMatch(/^[0-9a-f]{32}$/);
    expect(refused?.correlation_id).not.toBe(denied?.correlation_id);
    expect(await admin.query('SELECT 1 FROM security_events WHERE correlation_id = $1', [clientRequestId])).toMatchObject({ rowCount: 0 });
  });

  it('checks the token before the operation: an anonymous caller learns nothing about the manifest', async () => {
    const response = await post({ extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } }, {});
    expect(response.status).toBe(401);
  });

  it('refuses a tenant id that is not one, before the policy runs', async () => {
    const token = await app.mintToken({ tenant: tenant('ops'), scopes: ['coherence:read'] });
    const response = await post(readCoherence('no spaces allowed'), { authorization: `Bearer ${token}` });
    expect(response.status).toBe(400);
    expect(response.body.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
  });

  // Issue 13, item 9: these refusals left no audit trace; they are queued (not awaited) and land with the next batch.
  it.each([
    { code: 'PERSISTED_QUERY_NOT_FOUND', body: () => ({ extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } }) },
    { code: 'PERSISTED_QUERY_REQUIRED', body: () => ({ query: '{ __typename }' }) },
    {
      code: 'PERSISTED_QUERY_VERSION_UNSUPPORTED',
      body: () => ({ extensions: { persistedQuery: { version: 2, sha256Hash: tenantCoherenceId } } }),
    },
    { code: 'MALFORMED_REQUEST', body: () => [readCoherence(tenant('acme'))] },
    { code: 'BAD_USER_INPUT', body: () => readCoherence('no spaces allowed') },
  ])('a $code refusal is a REQUEST_REFUSED security event under the token tenant', async ({ code, body }) => {
    const correlationId = newTraceId();
    const token = await app.mintToken({ tenant: tenant('acme'), scopes: ['coherence:read:self'] });
    const response = await post(body(), { authorization: `Bearer ${token}`, ...continuing(correlationId) });
    expect(response.status).toBe(400);
    expect(response.body.errors?.[0]?.extensions.code).toBe(code);
    expect(await securityEventRows(correlationId)).toEqual([
      { kind: 'REQUEST_REFUSED', tenant_id: tenant('acme'), reason: code, source_ip: '127.0.0.1', subject: expect.any(String) },
    ]);
  });

  it('counts denials and decisions on /metrics', async () => {
    const metrics = await (await fetch(`${app.adminUrls.gateway}/metrics`)).text();
    expect(metrics).toMatch(/gateway_auth_denials_total\{reason_code="TOKEN_MISSING"\} [1-9]/);
    expect(metrics).toMatch(/gateway_policy_decisions_total\{allow="false",reason_code="TENANT_MISMATCH"\} [1-9]/);
    expect(metrics).toContain('gateway_policy_evaluation_seconds_bucket');
  });
});

describe('manifest hot reload', () => {
  const statusBody = 'query TenantStatus($tenantId: ID!) {\n  tenantCoherence(tenantId: $tenantId) {\n    status\n  }\n}';
  const statusOperation = {
    id: createHash('sha256').update(statusBody).digest('hex'),
    name: 'TenantStatus',
    type: 'query',
    body: statusBody,
  };
  const runStatus = async () =>
    post(
      { extensions: { persistedQuery: { version: 1, sha256Hash: statusOperation.id } }, variables: { tenantId: tenant('acme') } },
      { authorization: `Bearer ${await app.mintToken({ tenant: tenant('acme'), scopes: ['coherence:read:self'] })}` },
    );

  it('serves an operation added to the signed manifest without a restart (file watch)', async () => {
    expect((await runStatus()).body.errors?.[0]?.extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    writeFileSync(costsPathFor(manifestPath), JSON.stringify({ ...costs, TenantStatus: { base: 1 } }));
    writeFileSync(manifestPath, JSON.stringify({ ...manifest, operations: [...manifest.operations, statusOperation] }));
    await signCopy();
    let response = await runStatus();
    for (let attempt = 0; attempt < 50 && response.status !== 200; attempt += 1) {
      await sleep(100);
      response = await runStatus();
    }
    expect(response.status).toBe(200);
    expect(response.body.data).toEqual({ tenantCoherence: { status: 'UNKNOWN' } });
  });

  it('refuses a manifest that does not validate against the supergraph and keeps the previous one', async () => {
    const broken = 'query Broken {\n  noSuchField\n}';
    const brokenOperation = { id: createHash('sha256').update(broken).digest('hex'), name: 'Broken', type: 'query', body: broken };
    writeFileSync(manifestPath, JSON.stringify({ ...manifest, operations: [brokenOperation] }));
    await signCopy();
    await app.gateway.reload();
    expect((await runStatus()).status).toBe(200);
  });
});

describe('kill switch, break glass and bundle activation', () => {
  let paused: Awaited<ReturnType<typeof startApplication>>;
  const bundleDir = join(workDir, 'bundle');
  /** An operator who has just signed in for break glass: the scope, and a fresh token (iat now). */
  const breakGlassToken = (extra: { issuedAt?: Date; scopes?: string[] } = {}) =>
    paused.mintToken({
      tenant: tenant('ops'),
      scopes: extra.scopes ?? ['coherence:read', 'platform:break-glass'],
      issuedAt: extra.issuedAt,
    });
  const sendText = async (query: string, token: string, options: { method?: 'GET' | 'POST'; correlationId?: string } = {}) => {
    const headers = { authorization: `Bearer ${token}`, ...continuing(options.correlationId ?? newTraceId()) };
    const response =
      options.method === 'GET'
        ? await fetch(`${paused.gatewayUrl}/graphql?${new URLSearchParams({ query })}`, { headers })
        : await fetch(`${paused.gatewayUrl}/graphql`, {
            method: 'POST',
            headers: { ...headers, 'content-type': 'application/json' },
            body: JSON.stringify({ query }),
          });
    return { status: response.status, body: (await response.json()) as GraphQLResponse & { errors?: { message: string }[] } };
  };

  beforeAll(async () => {
    cpSync(fileURLToPath(new URL('../policy/bundle', import.meta.url)), bundleDir, { recursive: true });
    paused = await startApplication(inject('services'), database, {
      gatewayEnv: {
        GATEWAY_PAUSED_SCOPES: 'coherence:read:self',
        // Long enough for this block; the expiry itself is tested with a gateway of its own.
        GATEWAY_BREAK_GLASS_UNTIL: new Date(Date.now() + 30 * 60_000).toISOString(),
        GATEWAY_POLICY_BUNDLE_DIR: bundleDir,
      },
    });
  });
  afterAll(async () => paused?.stop());

  it('a paused scope denies what it grants with FEATURE_PAUSED; other scopes still work', async () => {
    const selfToken = await paused.mintToken({ tenant: tenant('acme'), scopes: ['coherence:read:self'] });
    const operatorToken = await paused.mintToken({ tenant: tenant('ops'), scopes: ['coherence:read'] });
    const url = `${paused.gatewayUrl}/graphql`;
    const send = (token: string) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(readCoherence(tenant('acme'))),
      });
    const denied = await send(selfToken);
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as GraphQLResponse).errors?.[0]?.extensions).toEqual({ code: 'FORBIDDEN', reasonCode: 'FEATURE_PAUSED' });
    expect((await send(operatorToken)).status).toBe(200);
  });

  it('break glass runs query text, still authorized, and leaves a BREAK_GLASS event with the sha256 of the text and a counter', async () => {
    const correlationId = newTraceId();
    const token = await breakGlassToken();
    const query = `query Triage { tenantCoherence(tenantId: "${tenant('globex')}") { tenantId status } }`;
    const response = await fetch(`${paused.gatewayUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...continuing(correlationId) },
      body: JSON.stringify({ query }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { tenantCoherence: { tenantId: tenant('globex'), status: 'UNKNOWN' } } });
    expect(await securityEventRows(correlationId)).toEqual([expect.objectContaining({ kind: 'BREAK_GLASS', tenant_id: tenant('globex') })]);
    const { rows: audited } = await admin.query("SELECT details->>'querySha256' AS sha256 FROM security_events WHERE correlation_id = $1", [
      correlationId,
    ]);
    expect(audited).toEqual([{ sha256: createHash('sha256').update(query).digest('hex') }]);
    const [decision] = await decisionRows(correlationId);
    expect(decision?.operation_id).toMatch(/^free-text:[0-9a-f]{64}$/);
    expect(await (await fetch(`${paused.adminUrls.gateway}/metrics`)).text()).toMatch(/gateway_break_glass_requests_total [1-9]/);

    const otherTenant = await fetch(`${paused.gatewayUrl}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${await breakGlassToken()}`,
      },
      body: JSON.stringify({ query: `query Triage { tenantCoherence(tenantId: "${tenant('hooli')}") { status } }` }),
    });
    expect(otherTenant.status).toBe(403);
  });

  it('break glass: an operation selecting only __typename is a 400 BAD_USER_INPUT, never a POLICY_ERROR', async () => {
    const token = await breakGlassToken();
    const run = (query: string) => sendText(query, token);
    const typename = await run('query Q { __typename }');
    expect(typename.status).toBe(400);
    expect(typename.body.errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: expect.stringContaining('__typename'),
    });
    // Introspection is a root field no rule covers: denied like any other, with the reason that says so.
    const introspection = await run('query Q { __schema { queryType { name } } }');
    expect(introspection.status).toBe(403);
    expect(introspection.body.errors?.[0]?.extensions).toEqual({ code: 'FORBIDDEN', reasonCode: 'FIELD_NOT_COVERED' });
  });

  it('break glass: query text without the platform:break-glass scope is a 403, leaves no BREAK_GLASS event, and is never parsed', async () => {
    const correlationId = newTraceId();
    const operator = await breakGlassToken({ scopes: ['coherence:read'] });
    const refused = await sendText(`query Triage { tenantCoherence(tenantId: "${tenant('acme')}") { status } }`, operator, {
      correlationId,
    });
    expect(refused.status).toBe(403);
    expect(refused.body.errors?.[0]?.extensions).toEqual({ code: 'FORBIDDEN', reasonCode: 'SCOPE_MISSING' });
    expect((await sendText('not graphql', operator)).body.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    expect(
      await admin.query("SELECT 1 FROM security_events WHERE correlation_id = $1 AND kind = 'BREAK_GLASS'", [correlationId]),
    ).toMatchObject({
      rowCount: 0,
    });
  });

  it('break glass: a token issued more than 15 minutes ago is refused, however valid', async () => {
    const old = await breakGlassToken({ issuedAt: new Date(Date.now() - 16 * 60_000) });
    const refused = await sendText(`query Triage { tenantCoherence(tenantId: "${tenant('acme')}") { status } }`, old);
    expect(refused.status).toBe(403);
    expect(refused.body.errors?.[0]?.extensions).toEqual({ code: 'FORBIDDEN', reasonCode: 'TOKEN_TOO_OLD' });
  });

  it('break glass: query text over GET is a 405, a mutation above all', async () => {
    const token = await breakGlassToken();
    for (const query of [
      `query Triage { tenantCoherence(tenantId: "${tenant('acme')}") { status } }`,
      `mutation Retry { retryCommand(id: "${randomUUID()}", reason: "triage") { __typename } }`,
    ]) {
      const refused = await sendText(query, token, { method: 'GET' });
      expect(refused.status).toBe(405);
      expect(refused.body.errors?.[0]?.extensions.code).toBe('METHOD_NOT_ALLOWED');
    }
  });

  it.each([
    ['nested deeper than 8', `query Deep { signals(tenantId: "t") ${'{ edges '.repeat(8)}{ cursor }${' }'.repeat(8)} }`],
    [
      'more than 100 fields',
      `query Wide { ${Array.from({ length: 51 }, (_, i) => `tenantCoherence(tenantId: "t${i}") { status }`).join(' ')} }`,
    ],
    [
      'more than 10 aliases',
      `query Aliased { ${Array.from({ length: 11 }, (_, i) => `a${i}: tenantCoherence(tenantId: "t") { status }`).join(' ')} }`,
    ],
  ])('break glass: query text %s is a 400 BAD_USER_INPUT', async (_name, query) => {
    const refused = await sendText(query, await breakGlassToken());
    expect(refused.status).toBe(400);
    expect(refused.body.errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: expect.stringContaining('break-glass limits'),
    });
  });

  it('break glass ends at GATEWAY_BREAK_GLASS_UNTIL while the gateway runs', async () => {
    // Long enough for the gateway to start (config is read once the subgraphs are up), short enough to wait for.
    const until = new Date(Date.now() + 5_000);
    const brief = await startApplication(inject('services'), database, { gatewayEnv: { GATEWAY_BREAK_GLASS_UNTIL: until.toISOString() } });
    try {
      await sleep(until.getTime() - Date.now() + 100);
      const token = await brief.mintToken({ tenant: tenant('ops'), scopes: ['coherence:read', 'platform:break-glass'] });
      const response = await fetch(`${brief.gatewayUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: `query Triage { tenantCoherence(tenantId: "${tenant('acme')}") { status } }` }),
      });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { errors: { message: string; extensions: { code: string } }[] }).errors[0]).toMatchObject({
        extensions: { code: 'PERSISTED_QUERY_REQUIRED' },
        message: expect.stringContaining('break glass ended'),
      });
    } finally {
      await brief.stop();
    }
  });

  it('refuses to start (config error, exit 2) with GATEWAY_BREAK_GLASS_UNTIL in the past', async () => {
    const logFile = join(workDir, 'gateway-expired-break-glass.log');
    const child = spawnGatewayProcess(logFile, {
      GATEWAY_PORT: String(await freePort()),
      GATEWAY_BREAK_GLASS_UNTIL: '2026-01-01T00:00:00Z',
    });
    try {
      // A gateway that took the setting would keep running: give it long enough to have exited if it refuses. Loading its
      // modules through tsx takes about 9 s on a quiet machine before the config is read, and three times that under load.
      expect(await Promise.race([child.exited, sleep(60_000, 'still running')])).toBe(2);
      expect(readFileSync(logFile, 'utf8')).toContain('GATEWAY_BREAK_GLASS_UNTIL: is in the past');
    } finally {
      await child.stop();
    }
  }, 90_000);

  it('refuses a tampered bundle on reload and keeps deciding with the active one', async () => {
    const token = await paused.mintToken({ tenant: tenant('ops'), scopes: ['coherence:read'] });
    writeFileSync(join(bundleDir, 'policy.wasm'), 'not the module the manifest names');
    await paused.gateway.reload();
    const response = await fetch(`${paused.gatewayUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(readCoherence(tenant('acme'))),
    });
    expect(response.status).toBe(200);
    expect(await (await fetch(`${paused.adminUrls.gateway}/metrics`)).text()).toMatch(
      /gateway_artifact_activations_total\{artifact="policy",outcome="refused",reason="HASH_MISMATCH"\} [1-9]/,
    );
  });

  it('with no valid bundle at start, denies everything with NO_ACTIVE_BUNDLE and is not ready', async () => {
    const closed = await startApplication(inject('services'), database, {
      gatewayEnv: { GATEWAY_POLICY_BUNDLE_DIR: join(workDir, 'no-bundle') },
    });
    try {
      const token = await closed.mintToken({ tenant: tenant('ops'), scopes: ['coherence:read'] });
      const response = await fetch(`${closed.gatewayUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(readCoherence(tenant('acme'))),
      });
      expect(response.status).toBe(403);
      expect(((await response.json()) as GraphQLResponse).errors?.[0]?.extensions).toEqual({
        code: 'FORBIDDEN',
        reasonCode: 'NO_ACTIVE_BUNDLE',
      });
      const ready = await fetch(`${closed.adminUrls.gateway}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({
        checks: expect.arrayContaining([expect.objectContaining({ name: 'policy', ok: false })]),
      });
    } finally {
      await closed.stop();
    }
  });

  it('break glass is off by default: query text is refused', async () => {
    const token = await app.mintToken({ tenant: tenant('ops'), scopes: ['coherence:read'] });
    const response = await post({ query: '{ __typename }' }, { authorization: `Bearer ${token}` });
    expect(response.status).toBe(400);
    expect(response.body.errors?.[0]?.extensions.code).toBe('PERSISTED_QUERY_REQUIRED');
  });
});

describe('odd input is a 4xx, never a 5xx (issue 12)', () => {
  // The cache on: its key is built from every variable, so it walks what the client sent too.
  let cached: Awaited<ReturnType<typeof startApplication>>;
  beforeAll(async () => {
    cached = await startApplication(inject('services'), database, { gatewayEnv: { GATEWAY_CACHE_ENABLED: 'true' } });
  });
  afterAll(async () => cached?.stop());

  // Built as text: JSON.stringify itself recurses, and overflows the stack at a few thousand levels.
  const nested = (depth: number, innermost: unknown) => `${'['.repeat(depth)}${JSON.stringify(innermost)}${']'.repeat(depth)}`;
  const send = async (body: unknown, headers: Record<string, string>) => {
    const response = await fetch(`${cached.gatewayUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as GraphQLResponse & { errors?: { message: string }[] } };
  };
  const withVariables = (variables: string) =>
    `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"${tenantCoherenceId}"}},"variables":${variables}}`;

  it('a tenantId variable of 5,000 nested arrays is a 400 BAD_USER_INPUT naming the variable', async () => {
    const token = await cached.mintToken({ tenant: tenant('ops'), scopes: ['coherence:read'] });
    const response = await send(withVariables(`{"tenantId":${nested(5_000, tenant('acme'))}}`), { authorization: `Bearer ${token}` });
    expect(response.status).toBe(400);
    expect(response.body.errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: expect.stringContaining('$tenantId'),
    });
  });

  it('so is any variable nested deeper than 32 levels, even one the operation does not declare (the cache key walks it); 32 levels still run', async () => {
    const headers = await cached.readHeaders(tenant('acme'));
    const withExtra = (extra: string) => withVariables(`{"tenantId":"${tenant('acme')}","extra":${extra}}`);
    const tooDeep = await send(withExtra(nested(30_000, 1)), headers);
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringContaining('$extra') });
    expect((await send(withExtra(nested(33, 1)), headers)).status).toBe(400);
    const atTheLimit = await send(withExtra(nested(32, 1)), headers);
    expect(atTheLimit.status).toBe(200);
    expect(atTheLimit.body.data?.['tenantCoherence']).toMatchObject({ tenantId: tenant('acme') });
  });

  it('accepts only extensions.persistedQuery.version 1', async () => {
    const headers = await cached.readHeaders(tenant('acme'));
    for (const version of [2, 0, '1', null, undefined]) {
      const response = await send(
        { extensions: { persistedQuery: { version, sha256Hash: tenantCoherenceId } }, variables: { tenantId: tenant('acme') } },
        headers,
      );
      expect(response.status, `version ${String(version)}`).toBe(400);
      expect(response.body.errors?.[0]?.extensions.code).toBe('PERSISTED_QUERY_VERSION_UNSUPPORTED');
    }
    expect((await send(readCoherence(tenant('acme')), headers)).status).toBe(200);
  });

  it('ingest refuses the same out-of-range claims: 401 TOKEN_CLAIMS_INVALID and an AUTH_DENY row, nothing stored', async () => {
    for (const claims of [{ sub: 'u'.repeat(300), tenant: tenant('acme') }, { tenant: 'ac me' }]) {
      const correlationId = randomUUID();
      const token = await cached.mintToken({ ...claims, scopes: ['coherence:write:self'] });
      const signal = {
        tenantId: claims.tenant,
        source: 'fuzz',
        signalId: correlationId,
        ts: new Date().toISOString(),
        type: 'latency',
        value: 0.5,
      };
      const response = await fetch(`${cached.ingestUrl}/v1/signals`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-request-id': correlationId },
        body: JSON.stringify({ signals: [signal] }),
      });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: { code: 'UNAUTHENTICATED', reason: 'TOKEN_CLAIMS_INVALID' } });
      expect(await securityEventRows(correlationId)).toEqual([
        { kind: 'AUTH_DENY', tenant_id: '-', reason: 'TOKEN_CLAIMS_INVALID', source_ip: '127.0.0.1', subject: null },
      ]);
      const { rowCount } = await admin.query('SELECT 1 FROM signal_ledger WHERE signal_id = $1', [correlationId]);
      expect(rowCount).toBe(0);
    }
  });

  it('a 60 KB Authorization header is a 431 with a JSON error body, from the gateway and from ingest', async () => {
    const authorization = `Bearer ${'a'.repeat(60_000)}`;
    const gateway = await fetch(`${cached.gatewayUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization },
    });
    expect(gateway.status).toBe(431);
    expect(await gateway.json()).toEqual({
      errors: [{ message: expect.any(String), extensions: { code: 'REQUEST_HEADER_FIELDS_TOO_LARGE' } }],
    });
    const ingest = await fetch(`${cached.ingestUrl}/v1/signals`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization },
    });
    expect(ingest.status).toBe(431);
    expect(await ingest.json()).toEqual({ error: { code: 'REQUEST_HEADER_FIELDS_TOO_LARGE', message: expect.any(String) } });
  });

  it('a request that is not valid HTTP is a 400 MALFORMED_REQUEST with a JSON error body', async () => {
    const { port } = new URL(cached.gatewayUrl);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1');
      let received = '';
      socket.on('data', (chunk) => (received += chunk.toString('utf8')));
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
      socket.end('POST /graphql HTTP/1.1\r\nHost: gateway\r\nthis line has no colon\r\n\r\n');
    });
    const [head, body] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(body!)).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'MALFORMED_REQUEST' } }] });
  });
});

describe('policy decisions survive shutdown', () => {
  it('the gateway process drains on SIGTERM, writes its queued decisions and exits 0', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const logFile = join(workDir, 'gateway-process.log');
    const child = spawnGatewayProcess(logFile, {
      // Not vitest's `test`: under it Apollo Server leaves out its own SIGTERM handler, which a deployed gateway had.
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      GATEWAY_PORT: String(port),
      GATEWAY_ADMIN_PORT: String(adminPort),
      GATEWAY_DECISION_FLUSH_MS: '60000',
    });
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitUntilHealthy('gateway', logFile, async () => (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).ok, 30_000, child);
      const correlationId = newTraceId();
      const token = await app.mintToken({ tenant: tenant('acme'), scopes: ['coherence:read:self'] });
      const response = await fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...continuing(correlationId) },
        body: JSON.stringify(readCoherence(tenant('acme'))),
      });
      expect(response.status).toBe(200);
      expect(await admin.query('SELECT 1 FROM policy_decisions WHERE correlation_id = $1', [correlationId])).toMatchObject({ rowCount: 0 });
      // SIGHUP re-reads the manifest and the bundle without stopping the process.
      process.kill(child.pid, 'SIGHUP');
      await waitUntilHealthy(
        'gateway',
        logFile,
        async () => readFileSync(logFile, 'utf8').includes('persisted operations reloaded'),
        10_000,
        child,
      );
      process.kill(child.pid, 'SIGTERM');
      expect(await child.exited).toBe(0);
      expect(readFileSync(logFile, 'utf8')).toContain('"msg":"stopped"');
      expect(await admin.query('SELECT 1 FROM policy_decisions WHERE correlation_id = $1', [correlationId])).toMatchObject({ rowCount: 1 });
    } finally {
      await child.stop();
    }
  });

  it('writes every queued decision when the gateway closes', async () => {
    const own = await startApplication(inject('services'), database, { gatewayEnv: { GATEWAY_DECISION_FLUSH_MS: '60000' } });
    const correlationIds = Array.from({ length: 5 }, () => newTraceId());
    const token = await own.mintToken({ tenant: tenant('acme'), scopes: ['coherence:read:self'] });
    for (const correlationId of correlationIds) {
      const response = await fetch(`${own.gatewayUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...continuing(correlationId) },
        body: JSON.stringify(readCoherence(tenant('acme'))),
      });
      expect(response.status).toBe(200);
    }
    const { rows: before } = await admin.query('SELECT 1 FROM policy_decisions WHERE correlation_id = ANY($1)', [correlationIds]);
    expect(before).toHaveLength(0);
    await own.stop();
    const { rows: after } = await admin.query('SELECT 1 FROM policy_decisions WHERE correlation_id = ANY($1)', [correlationIds]);
    expect(after).toHaveLength(5);
  });
});
