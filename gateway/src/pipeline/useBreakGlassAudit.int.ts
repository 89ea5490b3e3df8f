import { createPgPool, type PgPool } from '@coherence/platform';
import { apiSchemaFromSupergraph } from '@coherence/persisted-queries';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createSecurityMetrics } from '../createSecurityMetrics';
import { createFreeTextOperation } from '../persisted/createFreeTextOperation';
import { supergraphPath } from '../supergraph/subgraphs';
import type { GatewayStep } from './GatewayStep';
import { testContext, testPrincipal } from './testContext';
import { useBreakGlassAudit } from './useBreakGlassAudit';

/** The break-glass audit step against the real `security_events` table. */
let database: TestDatabase;
let appPool: PgPool;
let adminPool: PgPool;
let step: GatewayStep;
const registry = new Registry();
const apiSchema = apiSchemaFromSupergraph(readFileSync(supergraphPath, 'utf8'));

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  appPool = createPgPool(database.urls.gateway);
  adminPool = createPgPool(database.adminUrl);
  step = useBreakGlassAudit({ pool: appPool, metrics: createSecurityMetrics(registry) });
});

afterAll(async () => {
  await appPool?.end();
  await adminPool?.end();
  await database?.drop();
});

function requestOf(query: string, breakGlass: boolean) {
  const operation = createFreeTextOperation(query, apiSchema);
  if ('problem' in operation) throw new Error(operation.problem);
  const tenantId = `${database.namespace}-acme`;
  return testContext({
    correlationId: randomUUID(),
    principal: { ...testPrincipal(tenantId), issuedAt: new Date('2026-11-26T10:00:00Z') },
    operation,
    breakGlass,
    tenant: { tenantId, record: undefined, residency: new Map(), suspended: [] },
  });
}

const eventsOf = async (correlationId: string) =>
  (
    await adminPool.query<{ kind: string; tenant_id: string; details: Record<string, unknown> }>(
      'SELECT kind, tenant_id, details FROM security_events WHERE correlation_id = $1',
      [correlationId],
    )
  ).rows;

describe('useBreakGlassAudit', () => {
  it('writes each use as a BREAK_GLASS event with the sha256 of the whole query text, and counts it', async () => {
    const query = `query Triage { tenantCoherence(tenantId: "acme") { tenantId status } } # ${'x'.repeat(5_000)}`;
    const context = requestOf(query, true);
    expect(await step.onRequest!(context)).toBeUndefined();
    expect(await eventsOf(context.correlationId)).toEqual([
      {
        kind: 'BREAK_GLASS',
        tenant_id: context.tenant!.tenantId,
        details: {
          operationId: context.operation!.id,
          operationName: 'Triage',
          querySha256: createHash('sha256').update(query).digest('hex'),
          query: query.slice(0, 4_000),
          tokenIssuedAt: '2026-11-26T10:00:00.000Z',
        },
      },
    ]);
    expect(await registry.getSingleMetricAsString('gateway_break_glass_requests_total')).toMatch(/ 1$/);
  });

  it('writes nothing for a persisted operation', async () => {
    const context = requestOf('query Triage { tenantCoherence(tenantId: "acme") { status } }', false);
    expect(await step.onRequest!(context)).toBeUndefined();
    expect(await eventsOf(context.correlationId)).toEqual([]);
  });
});
