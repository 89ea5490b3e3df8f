import { createPgPool, type PgPool } from '@coherence/platform';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import type { Driver } from 'neo4j-driver';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createNeo4jDriver, ensureGraphSchema, projectSignals } from '../graph/signalGraph';
import { createRetention } from './createRetention';

/**
 * Retention against the real Postgres and Neo4j: data is seeded on both
 * sides of every boundary (and open work older than any TTL); a dry run
 * reports exactly the eligible part and changes nothing; a live run removes
 * exactly that part, in batches, and can be cut short and run again.
 */
let database: TestDatabase;
let admin: PgPool;
/** Retention's own role: it must see every tenant's dates and delete (docs/adr/0015). */
let pool: PgPool;
let driver: Driver;
const now = new Date();
const daysAgo = (days: number) => new Date(now.getTime() - days * 86_400_000).toISOString();
const ttls = {
  signalsDays: 30,
  graphDays: 30,
  outboxDays: 7,
  policyDecisionsDays: 90,
  commsDays: 90,
  scoresHistoryDays: 60,
  commsEnvelopesDays: 90,
  securityEventsDays: 90,
};

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  admin = createPgPool(database.adminUrl);
  pool = createPgPool(database.urls.retention);
  driver = createNeo4jDriver(services.neo4jBoltUrl);
  await ensureGraphSchema(driver);
});

afterAll(async () => {
  await driver?.executeQuery('MATCH (n) WHERE n.tenantId STARTS WITH $ns OR n.id STARTS WITH $ns DETACH DELETE n', {
    ns: `${database.namespace}-`,
  });
  await driver?.close();
  await admin?.end();
  await pool?.end();
  await database?.drop();
});

const tenant = (name: string) => `${database.namespace}-${name}`;

/** Per tenant: one row just past each TTL, one just inside it, and open work older than any TTL. */
async function seed(): Promise<void> {
  await admin.query(
    'TRUNCATE signal_ledger, outbox, policy_decisions, dispatch_commands, coherence_score_history, comms_envelopes, comms_policy_decisions, security_events CASCADE',
  );
  await driver.executeQuery('MATCH (n) WHERE n.tenantId STARTS WITH $ns OR n.id STARTS WITH $ns DETACH DELETE n', {
    ns: `${database.namespace}-`,
  });
  for (const tenantId of [tenant('a'), tenant('b')]) {
    const signals = [
      { signalId: 'old-1', ts: daysAgo(45) },
      { signalId: 'old-2', ts: daysAgo(30.01) },
      { signalId: 'kept', ts: daysAgo(29.99) },
    ];
    for (const s of signals) {
      await admin.query(
        `INSERT INTO signal_ledger (tenant_id, source, signal_id, ts, type, value, weight, provenance) VALUES ($1, 'api', $2, $3, 'health', 0.5, 1, '{}')`,
        [tenantId, s.signalId, s.ts],
      );
    }
    await projectSignals(
      driver,
      signals.map((s) => ({
        tenantId,
        source: 'api',
        signalId: s.signalId,
        ts: s.ts,
        type: 'health',
        value: 0.5,
        weight: 1,
        provenance: { purpose: 'test', retention: 'P30D', license: 'internal', residency: 'us' },
        receivedAt: s.ts,
      })),
    );
    for (const [processedAt, createdAt] of [
      [daysAgo(8), daysAgo(8)],
      [daysAgo(6), daysAgo(8)],
      [null, daysAgo(60)],
    ] as const) {
      await admin.query(
        `INSERT INTO outbox (tenant_id, message_id, type, envelope, created_at, processed_at) VALUES ($1, $2, 'SignalsAccepted', '{}', $3, $4)`,
        [tenantId, randomUUID(), createdAt, processedAt],
      );
    }
    for (const decidedAt of [daysAgo(91), daysAgo(89)]) {
      await admin.query(
        `INSERT INTO policy_decisions (decision_id, tenant_id, subject, operation_id, operation_type, allow, reason_code, explanation, correlation_id, region, decided_at)
         VALUES ($1, $2, 'someone', 'op', 'query', false, 'SCOPE_MISSING', 'denied', 'c', 'us', $3)`,
        [randomUUID(), tenantId, decidedAt],
      );
      await admin.query(
        `INSERT INTO comms_policy_decisions (decision_id, tenant_id, subject, operation_id, operation_type, allow, reason_code, explanation, correlation_id, region, decided_at)
         VALUES ($1, $2, 'system', 'quiet-hours', 'dispatch', false, 'QUIET_HOURS', 'deferred', 'c', 'us', $3)`,
        [randomUUID(), tenantId, decidedAt],
      );
    }
    for (const [state, createdAt] of [
      ['succeeded', daysAgo(91)],
      ['cancelled', daysAgo(91)],
      ['troubleshooting', daysAgo(200)],
      ['succeeded', daysAgo(89)],
    ] as const) {
      const commandId = randomUUID();
      await admin.query(
        `INSERT INTO dispatch_commands (command_id, tenant_id, type, idempotency_key, state, payload, created_at) VALUES ($1, $2, 'notify', $3, $4, '{}', $5)`,
        [commandId, tenantId, randomUUID(), state, createdAt],
      );
      // The command's trail goes with it.
      await admin.query(
        `INSERT INTO dispatch_audit (command_id, tenant_id, actor, action, to_state, reason, correlation_id) VALUES ($1, $2, 'system:test', 'send', 'pending', 'seeded', 'c')`,
        [commandId, tenantId],
      );
    }
    for (const [changedAt, publishedAt] of [
      [daysAgo(61), daysAgo(61)],
      [daysAgo(59), daysAgo(59)],
      [daysAgo(90), null],
    ] as const) {
      await admin.query(
        `INSERT INTO coherence_score_history (tenant_id, score, status, changed_at, message, published_at) VALUES ($1, 0.5, 'WARN', $2, '{}', $3)`,
        [tenantId, changedAt, publishedAt],
      );
    }
    for (const receivedAt of [daysAgo(91), daysAgo(89)]) {
      await admin.query(
        `INSERT INTO comms_envelopes (envelope_id, tenant_id, channel, direction, provider, correlation_id, received_at, payload)
         VALUES ($1, $2, 'sms', 'inbound', 'twilio', 'c', $3, '{}')`,
        [randomUUID(), tenantId, receivedAt],
      );
    }
    for (const occurredAt of [daysAgo(91), daysAgo(89)]) {
      await admin.query(
        `INSERT INTO security_events (tenant_id, kind, service, reason, correlation_id, occurred_at) VALUES ($1, 'AUTH_DENY', 'gateway', 'seeded', 'c', $2)`,
        [tenantId, occurredAt],
      );
    }
  }
}

/** An old signal (ledger and graph) of each tenant. */
async function seedOldSignals(tenantIds: string[]): Promise<void> {
  for (const tenantId of tenantIds) {
    await admin.query(
      `INSERT INTO signal_ledger (tenant_id, source, signal_id, ts, type, value, weight, provenance) VALUES ($1, 'api', 'old', $2, 'health', 0.5, 1, '{}')`,
      [tenantId, daysAgo(45)],
    );
    await projectSignals(driver, [
      {
        tenantId,
        source: 'api',
        signalId: 'old',
        ts: daysAgo(45),
        type: 'health',
        value: 0.5,
        weight: 1,
        provenance: { purpose: 'test', retention: 'P30D', license: 'internal', residency: 'us' },
        receivedAt: daysAgo(45),
      },
    ]);
  }
}

async function remaining() {
  const count = async (sql: string) => (await admin.query<{ n: number }>(sql)).rows[0]!.n;
  const graph = await driver.executeQuery('MATCH (s:Signal) WHERE s.tenantId STARTS WITH $ns RETURN s.signalId AS id ORDER BY id', {
    ns: `${database.namespace}-`,
  });
  return {
    ledger: (await admin.query<{ signal_id: string }>('SELECT signal_id FROM signal_ledger ORDER BY signal_id')).rows.map(
      (r) => r.signal_id,
    ),
    outbox: await count('SELECT count(*)::int AS n FROM outbox'),
    pendingOutbox: await count('SELECT count(*)::int AS n FROM outbox WHERE processed_at IS NULL'),
    decisions: await count('SELECT count(*)::int AS n FROM policy_decisions'),
    commsDecisions: await count('SELECT count(*)::int AS n FROM comms_policy_decisions'),
    securityEvents: await count('SELECT count(*)::int AS n FROM security_events'),
    audit: await count('SELECT count(*)::int AS n FROM dispatch_audit'),
    commands: (await admin.query<{ state: string }>('SELECT state FROM dispatch_commands ORDER BY state')).rows.map((r) => r.state),
    envelopes: (
      await admin.query<{ age_days: number }>(
        `SELECT round(EXTRACT(EPOCH FROM $1::timestamptz - received_at) / 86400)::int AS age_days FROM comms_envelopes ORDER BY 1`,
        [now.toISOString()],
      )
    ).rows.map((r) => r.age_days),
    history: (
      await admin.query<{ published: boolean }>(
        'SELECT published_at IS NOT NULL AS published FROM coherence_score_history ORDER BY changed_at',
      )
    ).rows.map((r) => r.published),
    graph: graph.records.map((r) => r.get('id') as string),
  };
}

const retention = (batchSize = 2) => createRetention({ pool, driver, ttls, batchSize, tenantPrefix: `${database.namespace}-` });

describe('retention', () => {
  beforeEach(seed);

  it('reports per dataset and tenant what would go, and changes nothing on a dry run', async () => {
    const before = await remaining();
    const { rows, outcomes } = await retention().report(now);
    expect(await remaining()).toEqual(before);
    const byDataset = (dataset: string) => rows.filter((r) => r.dataset === dataset).map((r) => [r.tenantId, r.count]);
    for (const [dataset, count] of [
      ['signal_ledger', 2],
      ['graph_signals', 2],
      ['outbox', 1],
      ['policy_decisions', 1],
      ['comms_policy_decisions', 1],
      ['comms_commands', 2],
      ['scores_history', 1],
      ['comms_envelopes', 1],
      ['security_events', 1],
    ] as const) {
      expect(byDataset(dataset)).toEqual([
        [tenant('a'), count],
        [tenant('b'), count],
      ]);
    }
    const ledgerRow = rows.find((r) => r.dataset === 'signal_ledger')!;
    expect(Date.parse(ledgerRow.oldest)).toBe(Date.parse(daysAgo(45)));
    expect(Date.parse(ledgerRow.newest)).toBe(Date.parse(daysAgo(30.01)));
    expect(outcomes.every((o) => o.present)).toBe(true);
  });

  it('deletes exactly the eligible rows and nodes, in batches', async () => {
    const batches: number[] = [];
    const outcomes = await retention().apply(now, { onBatch: (_dataset, deleted) => batches.push(deleted) });
    expect(Math.max(...batches)).toBeLessThanOrEqual(2);
    expect(Object.fromEntries(outcomes.map((o) => [o.dataset, o.deleted]))).toEqual({
      signal_ledger: 4,
      outbox: 2,
      policy_decisions: 2,
      comms_policy_decisions: 2,
      comms_commands: 4,
      scores_history: 2,
      comms_envelopes: 2,
      security_events: 2,
      graph_signals: 4,
    });
    expect(await remaining()).toEqual({
      ledger: ['kept', 'kept'],
      outbox: 4,
      pendingOutbox: 2,
      decisions: 2,
      commsDecisions: 2,
      securityEvents: 2,
      audit: 4,
      commands: ['succeeded', 'succeeded', 'troubleshooting', 'troubleshooting'],
      // The unpublished change (90 days old) and the published one inside the TTL, per tenant.
      history: [false, false, true, true],
      envelopes: [89, 89],
      graph: ['kept', 'kept'],
    });
  });

  it('can be cut short after any batch and finishes on the next run', async () => {
    const abort = new AbortController();
    await retention(1).apply(now, { signal: abort.signal, onBatch: () => abort.abort() });
    const partial = await remaining();
    expect(partial.ledger).toHaveLength(5);
    await retention(1).apply(now);
    expect(await remaining()).toMatchObject({ ledger: ['kept', 'kept'], graph: ['kept', 'kept'], decisions: 2 });
    const rerun = await retention(1).apply(now);
    expect(rerun.every((o) => o.deleted === 0)).toBe(true);
  });

  it('takes the tenant prefix literally on both stores: `_` and `%` are no wildcards', async () => {
    await seedOldSignals([tenant('u_1'), tenant('uX1')]);
    const literal = (tenantPrefix: string) => createRetention({ pool, driver, ttls, batchSize: 10, tenantPrefix });
    const deletedOf = async (tenantPrefix: string) =>
      Object.fromEntries((await literal(tenantPrefix).apply(now)).map((o) => [o.dataset, o.deleted]));

    // `%` alone, or after the namespace, would be every tenant to LIKE.
    expect((await literal('%').report(now)).rows).toEqual([]);
    expect((await literal(`${database.namespace}-%`).report(now)).rows).toEqual([]);
    expect(new Set(Object.values(await deletedOf(`${database.namespace}-%`)))).toEqual(new Set([0]));
    // `_` would also match `uX1`.
    expect(await deletedOf(tenant('u_'))).toMatchObject({ signal_ledger: 1, graph_signals: 1 });

    const ledger = await admin.query<{ tenant_id: string }>(`SELECT tenant_id FROM signal_ledger WHERE signal_id = 'old'`);
    expect(ledger.rows.map((r) => r.tenant_id)).toEqual([tenant('uX1')]);
    const graph = await driver.executeQuery(`MATCH (s:Signal {signalId: 'old'}) WHERE s.tenantId STARTS WITH $ns RETURN s.tenantId AS id`, {
      ns: `${database.namespace}-`,
    });
    expect(graph.records.map((r) => r.get('id') as string)).toEqual([tenant('uX1')]);
  });
});
