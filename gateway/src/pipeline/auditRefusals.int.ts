import { apiSchemaFromSupergraph } from '@coherence/persisted-queries';
import costs from '@coherence/persisted-queries/costs.json' with { type: 'json' };
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createLogger, createPgPool, type PgPool } from '@coherence/platform';
import { createTestDatabase, type TestDatabase } from '@coherence/testkit';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createSecurityEventQueue } from '../audit/createSecurityEventQueue';
import { createPersistedOperations } from '../persisted/createPersistedOperations';
import { supergraphPath } from '../supergraph/subgraphs';
import { auditRefusals } from './auditRefusals';
import { testContext, testPrincipal } from './testContext';
import { useKillSwitch } from './useKillSwitch';

/** Refusals queued as REQUEST_REFUSED events, written in batches to the real `security_events` table. */
let database: TestDatabase;
let appPool: PgPool;
let adminPool: PgPool;
const logger = createLogger('test', 'silent');
const operations = createPersistedOperations(manifest, costs, apiSchemaFromSupergraph(readFileSync(supergraphPath, 'utf8')));
const tenantCoherence = operations.get(manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id)!;

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  appPool = createPgPool(database.appUrl);
  adminPool = createPgPool(database.adminUrl);
});

afterAll(async () => {
  await appPool?.end();
  await adminPool?.end();
  await database?.drop();
});

const eventsOf = async (correlationId: string) =>
  (
    await adminPool.query<{ kind: string; tenant_id: string; reason: string; subject: string | null; details: Record<string, unknown> }>(
      'SELECT kind, tenant_id, reason, subject, details FROM security_events WHERE correlation_id = $1',
      [correlationId],
    )
  ).rows;

/** A queue that writes only when closed, so a test sees nothing is written before. */
const queueFlushedOnClose = () =>
  createSecurityEventQueue({ pool: appPool, logger, flushMs: 60_000, batchSize: 100, maxPending: 100, onDropped: () => {} });

describe('auditRefusals', () => {
  it('queues a kill-switch refusal as REQUEST_REFUSED FEATURE_DISABLED under the token tenant, written on flush, not before', async () => {
    const events = queueFlushedOnClose();
    const step = auditRefusals(useKillSwitch({ isSwitchedOff: () => true }), events);
    const tenantId = `${database.namespace}-acme`;
    const context = testContext({ correlationId: randomUUID(), principal: testPrincipal(tenantId), operation: tenantCoherence });

    expect(await step.onRequest?.(context)).toMatchObject({ code: 'FEATURE_DISABLED' });
    // The refusal was answered without a write: the row comes with the batch.
    expect(await eventsOf(context.correlationId)).toEqual([]);
    await events.close();
    expect(await eventsOf(context.correlationId)).toEqual([
      {
        kind: 'REQUEST_REFUSED',
        tenant_id: tenantId,
        reason: 'FEATURE_DISABLED',
        subject: 'test-user',
        details: expect.objectContaining({ step: 'kill-switch', operationId: tenantCoherence.id }),
      },
    ]);
  });

  it('lets an admitted request through without an event', async () => {
    const events = queueFlushedOnClose();
    const step = auditRefusals(useKillSwitch({ isSwitchedOff: () => false }), events);
    const context = testContext({ correlationId: randomUUID(), principal: testPrincipal('t'), operation: tenantCoherence });
    expect(await step.onRequest?.(context)).toBeUndefined();
    await events.close();
    expect(await eventsOf(context.correlationId)).toEqual([]);
  });

  it('is bounded: beyond maxPending events are dropped and counted, and the rest written in one batch', async () => {
    const dropped: [number, string][] = [];
    const events = createSecurityEventQueue({
      pool: appPool,
      logger,
      flushMs: 60_000,
      batchSize: 1_000,
      maxPending: 3,
      onDropped: (count, reason) => dropped.push([count, reason]),
    });
    const correlationId = randomUUID();
    for (let i = 0; i < 5; i += 1)
      events.record({ kind: 'REQUEST_REFUSED', tenantId: '-', service: 'gateway', reason: 'MALFORMED_REQUEST', correlationId });
    await events.close();
    expect(await eventsOf(correlationId)).toHaveLength(3);
    expect(dropped).toEqual([
      [1, 'overflow'],
      [1, 'overflow'],
    ]);
  });
});
