import { apiSchemaFromSupergraph } from '@coherence/persisted-queries';
import costs from '@coherence/persisted-queries/costs.json' with { type: 'json' };
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createLogger, createPgPool, createSecurityEventWriter, type PgPool } from '@coherence/platform';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
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
  appPool = createPgPool(database.urls.gateway);
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
const queueFlushedOnClose = (now?: () => number) =>
  createSecurityEventWriter({
    pool: appPool,
    logger,
    flushMs: 60_000,
    batchSize: 100,
    maxPending: 100,
    onDropped: () => {},
    ...(now ? { now } : {}),
  });

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

  it('writes events of several tenants in one batch, each under its own tenant (row-level security)', async () => {
    const events = queueFlushedOnClose();
    const correlationId = randomUUID();
    const [a, b] = [`${database.namespace}-a`, `${database.namespace}-b`];
    // Tenants interleaved, each event a reason of its own: every row's values must come from its own position.
    const sent: [string, string][] = [
      ['-', 'TOKEN_EXPIRED'],
      [a, 'TOKEN_INVALID'],
      [b, 'TOKEN_EXPIRED'],
      [a, 'TOKEN_MISSING'],
      ['-', 'TOKEN_INVALID'],
    ];
    for (const [tenantId, reason] of sent) events.record({ kind: 'AUTH_DENY', tenantId, service: 'gateway', reason, correlationId });
    // Row-level security refuses a row whose tenant is not the one set (WITH CHECK): all stored means each was set.
    await events.close();
    const stored = (await eventsOf(correlationId)).map((event): [string, string] => [event.tenant_id, event.reason]);
    expect(stored.sort()).toEqual([...sent].sort());
  });

  it('is bounded: beyond maxPending events are dropped and counted, and the rest written in one batch', async () => {
    const dropped: [number, string][] = [];
    const events = createSecurityEventWriter({
      pool: appPool,
      logger,
      flushMs: 60_000,
      batchSize: 1_000,
      maxPending: 3,
      onDropped: (count, reason) => dropped.push([count, reason]),
    });
    const correlationId = randomUUID();
    // From five addresses: events alike but for the address are not aggregated.
    for (let i = 0; i < 5; i += 1)
      events.record({
        kind: 'REQUEST_REFUSED',
        tenantId: '-',
        service: 'gateway',
        reason: 'MALFORMED_REQUEST',
        sourceIp: `192.0.2.${i}`,
        correlationId,
      });
    await events.close();
    expect(await eventsOf(correlationId)).toHaveLength(3);
    expect(dropped).toEqual([
      [1, 'overflow'],
      [1, 'overflow'],
    ]);
  });

  it('writes events alone until a flood, then aggregates the rest per kind, subject, address, reason and minute', async () => {
    let nowMs = 0;
    const events = createSecurityEventWriter({
      pool: appPool,
      logger,
      flushMs: 60_000,
      batchSize: 10_000,
      maxPending: 100,
      individualPerMinute: 2,
      now: () => nowMs,
    });
    const ids = Array.from({ length: 1_000 }, () => randomUUID());
    const denial = { kind: 'AUTH_DENY', tenantId: '-', service: 'gateway', reason: 'TOKEN_INVALID', sourceIp: '198.51.100.9' } as const;
    for (const id of ids) events.record({ ...denial, correlationId: id, details: { detail: 'bad signature' } });
    // Another address, and the next minute, are events alone again.
    const otherAddress = randomUUID();
    events.record({ ...denial, sourceIp: '198.51.100.10', correlationId: otherAddress });
    nowMs = 60_000;
    const nextMinute = randomUUID();
    events.record({ ...denial, correlationId: nextMinute });
    await events.close();
    expect(await eventsOf(ids[0]!)).toEqual([expect.objectContaining({ details: { detail: 'bad signature' } })]);
    expect(await eventsOf(ids[1]!)).toEqual([expect.objectContaining({ details: { detail: 'bad signature' } })]);
    expect(await eventsOf(ids[2]!)).toEqual([
      expect.objectContaining({ kind: 'AUTH_DENY', details: { detail: 'bad signature', count: 998, lastCorrelationId: ids.at(-1) } }),
    ]);
    expect(await eventsOf(ids[3]!)).toEqual([]);
    expect(await eventsOf(otherAddress)).toEqual([expect.objectContaining({ details: {} })]);
    expect(await eventsOf(nextMinute)).toEqual([expect.objectContaining({ details: {} })]);
  });
});
