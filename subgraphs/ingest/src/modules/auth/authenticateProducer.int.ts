import {
  createTokenVerifier,
  DEV_ISSUER,
  ensureDevKeys,
  mintDevToken,
  SCOPES,
  type DevKeyFiles,
  type DevTokenClaims,
} from '@coherence/auth';
import {
  createAdminApp,
  createLogger,
  createPgPool,
  createSecurityEventWriter,
  createServiceApp,
  type PgPool,
  type SecurityEventWriter,
  type ServiceApp,
} from '@coherence/platform';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAuthenticateHook } from './authenticateProducer';

/**
 * The producer authentication hook with tokens signed by the trusted key
 * whose claims are out of range (issue 12: a 300-character `sub` or a
 * `tenant` of `ac me` got through). Each is a 401 UNAUTHENTICATED with reason
 * TOKEN_CLAIMS_INVALID and an AUTH_DENY security event under tenant `-`,
 * before the route runs. The hook is mounted as ingest mounts it, with the
 * same cached verifier, against the real Postgres.
 */
const keyDir = mkdtempSync(join(tmpdir(), 'ingest-claims-keys-'));
let keys: DevKeyFiles;
let database: TestDatabase;
let pool: PgPool;
let admin: PgPool;
let securityEvents: SecurityEventWriter;
let service: ServiceApp;
let url: string;
let routeRuns = 0;

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  pool = createPgPool(database.urls.ingest);
  admin = createPgPool(database.adminUrl);
  keys = await ensureDevKeys(keyDir);
  const verify = await createTokenVerifier({ jwks: keys.jwksPath, issuers: [DEV_ISSUER] });
  const logger = createLogger('ingest', 'silent');
  securityEvents = createSecurityEventWriter({ pool, logger, flushMs: 20, batchSize: 200, maxPending: 1_000 });
  service = createServiceApp({ logger, admin: createAdminApp({ logger, readinessChecks: [] }) });
  service.app.decorateRequest('principal', null);
  service.app.post(
    '/v1/signals',
    { onRequest: createAuthenticateHook({ verify, securityEvents, requiredScope: SCOPES.writeSelf }) },
    async (_request, reply) => {
      routeRuns += 1;
      return reply.code(202).send({});
    },
  );
  await service.app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(service.app.server.address() as AddressInfo).port}/v1/signals`;
});

afterAll(async () => {
  await service?.app.close();
  await securityEvents?.close();
  await pool?.end();
  await admin?.end();
  await database?.drop();
  rmSync(keyDir, { recursive: true, force: true });
});

const tenant = () => `${database.namespace}-claims`;

describe('tokens with out-of-range claims', () => {
  it.each<[string, Partial<DevTokenClaims>]>([
    ['a 300-character sub', { sub: 'p'.repeat(300) }],
    ['a sub with a NUL character', { sub: 'producer\u0000' }],
    ['a tenant claim that is not a tenant id', { tenant: 'ac me' }],
    ['a 129-character tenant claim', { tenant: 't'.repeat(129) }],
    ['a client_id with a line break', { clientId: 'cli\nx-forged: 1' }],
  ])('%s: 401 TOKEN_CLAIMS_INVALID and an AUTH_DENY event, before the route runs', async (_name, override) => {
    const tenantId = tenant();
    const bearer = await mintDevToken(keys.privateKeyPath, {
      sub: 'producer',
      tenant: tenantId,
      scopes: [SCOPES.writeSelf],
      residency: ['us'],
      ...override,
    });
    const correlationId = randomUUID();
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}`, 'x-request-id': correlationId },
      body: JSON.stringify({ signals: [{ tenantId }] }),
    });

    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      error: { code: 'UNAUTHENTICATED', reason: 'TOKEN_CLAIMS_INVALID', message: expect.any(String) },
    });
    await securityEvents.flush();
    const { rows: events } = await admin.query('SELECT kind, tenant_id, reason, subject FROM security_events WHERE correlation_id = $1', [
      correlationId,
    ]);
    expect(events).toEqual([{ kind: 'AUTH_DENY', tenant_id: '-', reason: 'TOKEN_CLAIMS_INVALID', subject: null }]);
    expect(routeRuns).toBe(0);
  });
});

describe('a flood of refused tokens', () => {
  it('costs no database write per request: past 20 alike refusals a minute, the rest are folded into rows with a count', async () => {
    const floods = 60;
    for (let i = 0; i < floods; i += 1) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer not.a.jwt', 'x-request-id': `flood-${i}` },
        body: '{}',
      });
      expect(response.status).toBe(401);
    }
    await securityEvents.flush();
    const { rows } = await admin.query<{ count: number }>(
      `SELECT coalesce((details->>'count')::int, 1) AS count FROM security_events WHERE reason = 'TOKEN_MALFORMED' AND correlation_id LIKE 'flood-%'`,
    );
    expect(rows.reduce((sum, row) => sum + row.count, 0)).toBe(floods);
    // 20 rows of their own and one aggregate per minute; a minute boundary during the flood makes it two of each at most.
    expect(rows.length).toBeLessThanOrEqual(2 * 21);
    expect(routeRuns).toBe(0);
  });
});
