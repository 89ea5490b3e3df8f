import { createLogger, createPgPool, type PgPool } from '@coherence/platform';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDecisionRecorder, type DecisionRecorderOptions, type RecordedDecision } from './createDecisionRecorder';

let database: TestDatabase;
let appPool: PgPool;
let adminPool: PgPool;

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

const decision = (tenantId: string, allow: boolean): RecordedDecision => ({
  decisionId: randomUUID(),
  tenantId,
  subject: 'user-1',
  clientId: 'web',
  operationId: 'a'.repeat(64),
  operationType: 'query',
  allow,
  reasonCode: allow ? 'ALLOWED' : 'TENANT_MISMATCH',
  explanation: 'test',
  bundleSha256: 'b'.repeat(64),
  correlationId: randomUUID(),
  decidedAt: new Date().toISOString(),
  input: {
    principal: { subject: 'user-1', tenant: tenantId, scopes: ['coherence:read:self'], residency: ['us'] },
    operation: { id: 'a'.repeat(64), type: 'query', rootFields: ['tenantCoherence'] },
    tenantIds: [tenantId],
    tenantResidency: { [tenantId]: 'us' },
    region: 'us',
    pausedScopes: [],
  },
});

const stored = async (decisions: RecordedDecision[]) =>
  (
    await adminPool.query<{ n: number }>('SELECT count(*)::int AS n FROM policy_decisions WHERE decision_id = ANY($1)', [
      decisions.map((d) => d.decisionId),
    ])
  ).rows[0]!.n;

describe('createDecisionRecorder', () => {
  const logger = createLogger('test', 'silent');

  /** A recorder that only flushes when told (or closed). */
  const manualRecorder = (options: Partial<DecisionRecorderOptions> = {}) =>
    createDecisionRecorder({ pool: appPool, logger, region: 'us', flushMs: 60_000, batchSize: 1_000, ...options });

  /** A recorder that only flushes when told, noting each drop as `reason:count`. */
  const recorderCountingDrops = (options: { maxPending?: number } = {}) => {
    const dropped: string[] = [];
    const recorder = manualRecorder({ ...options, onDropped: (count, reason) => dropped.push(`${reason}:${count}`) });
    return { recorder, dropped };
  };

  it('writes decisions of several tenants in one batch, each under its own tenant (row-level security)', async () => {
    const recorder = manualRecorder();
    // Tenants interleaved, so that each row's values must be taken from its own position in the batch.
    const decisions = [
      decision(`${database.namespace}-a`, true),
      decision(`${database.namespace}-b`, false),
      decision(`${database.namespace}-a`, false),
      decision(`${database.namespace}-c`, true),
      decision(`${database.namespace}-b`, true),
    ];
    for (const d of decisions) recorder.record(d);
    expect(await stored(decisions)).toBe(0);
    expect(await recorder.flush()).toBe(true);
    const { rows } = await adminPool.query(
      `SELECT decision_id AS "decisionId", tenant_id AS "tenantId", allow, reason_code AS "reasonCode",
              correlation_id AS "correlationId", input, client_id AS "clientId", region
         FROM policy_decisions WHERE decision_id = ANY($1) ORDER BY array_position($1, decision_id)`,
      [decisions.map((d) => d.decisionId)],
    );
    expect(rows).toEqual(
      decisions.map(({ decisionId, tenantId, allow, reasonCode, correlationId, input }) => ({
        decisionId,
        tenantId,
        allow,
        reasonCode,
        correlationId,
        input,
        clientId: 'web',
        region: 'us',
      })),
    );
    await recorder.close();
  });

  it('keeps decisions the database refused and writes them once it accepts again', async () => {
    const { recorder, dropped } = recorderCountingDrops({ maxPending: 3 });
    await adminPool.query('REVOKE INSERT ON policy_decisions FROM gateway_app');
    const decisions = Array.from({ length: 4 }, () => decision(`${database.namespace}-c`, true));
    try {
      for (const d of decisions) recorder.record(d);
      expect(await recorder.flush()).toBe(false);
    } finally {
      await adminPool.query('GRANT INSERT ON policy_decisions TO gateway_app');
    }
    // Bounded: beyond maxPending a new decision is dropped, and counted.
    expect(dropped).toEqual(['overflow:1']);
    await recorder.close();
    expect(await stored(decisions.slice(0, 3))).toBe(3);
    expect(await stored(decisions.slice(3))).toBe(0);
  });

  it('keeps the newest within maxPending when a failed batch comes back to a queue that filled meanwhile', async () => {
    const { recorder, dropped } = recorderCountingDrops({ maxPending: 3 });
    await adminPool.query('REVOKE INSERT ON policy_decisions FROM gateway_app');
    const older = Array.from({ length: 3 }, () => decision(`${database.namespace}-e`, true));
    const newer = Array.from({ length: 3 }, () => decision(`${database.namespace}-e`, false));
    try {
      for (const d of older) recorder.record(d);
      const flushed = recorder.flush();
      // Queued while the batch of `older` is being written (and refused).
      for (const d of newer) recorder.record(d);
      expect(await flushed).toBe(false);
    } finally {
      await adminPool.query('GRANT INSERT ON policy_decisions TO gateway_app');
    }
    expect(dropped).toEqual(['overflow:3']);
    await recorder.close();
    expect(await stored(newer)).toBe(3);
    expect(await stored(older)).toBe(0);
  });

  it('sets aside a decision whose values Postgres refuses, and writes every other one of its batch', async () => {
    const { recorder, dropped } = recorderCountingDrops();
    // A row the database refuses whatever the attempt (SQLSTATE 23514), standing in for any value a
    // future contract lets through and Postgres does not: before, it held up the whole audit trail.
    await adminPool.query(`ALTER TABLE policy_decisions ADD CONSTRAINT test_refuses_poison CHECK (explanation <> 'poison') NOT VALID`);
    try {
      const tenant = `${database.namespace}-d`;
      const decisions = [decision(tenant, true), { ...decision(tenant, true), explanation: 'poison' }, decision(tenant, false)];
      for (const d of decisions) recorder.record(d);
      expect(await recorder.flush()).toBe(true);
      expect(await stored([decisions[0]!, decisions[2]!])).toBe(2);
      expect(await stored([decisions[1]!])).toBe(0);
      expect(dropped).toEqual(['refused:1']);
      // Nothing is left queued behind it: the next decision is written on the next flush.
      const later = decision(tenant, true);
      recorder.record(later);
      expect(await recorder.flush()).toBe(true);
      expect(await stored([later])).toBe(1);
    } finally {
      await adminPool.query('ALTER TABLE policy_decisions DROP CONSTRAINT test_refuses_poison');
      await recorder.close();
    }
  });

  it('keeps the input the bundle decided, and what a shadow bundle answered when there is one', async () => {
    const recorder = manualRecorder();
    const tenant = `${database.namespace}-f`;
    const live = decision(tenant, true);
    const shadowed = { ...decision(tenant, true), shadow: { allow: false, reasonCode: 'SCOPE_MISSING', bundleSha256: 'c'.repeat(64) } };
    recorder.record(live);
    recorder.record(shadowed);
    await recorder.close();
    const { rows } = await adminPool.query(
      `SELECT input, shadow_allow, shadow_reason_code, shadow_bundle_sha256 FROM policy_decisions
        WHERE decision_id = ANY($1) ORDER BY decision_id = $2 DESC`,
      [[live.decisionId, shadowed.decisionId], live.decisionId],
    );
    expect(rows).toEqual([
      { input: live.input, shadow_allow: null, shadow_reason_code: null, shadow_bundle_sha256: null },
      { input: shadowed.input, shadow_allow: false, shadow_reason_code: 'SCOPE_MISSING', shadow_bundle_sha256: 'c'.repeat(64) },
    ]);
  });

  it('refuses an input with anything beyond the policy input, so no token material reaches the table', () => {
    const recorder = manualRecorder();
    const leaky = decision('t', true);
    const principal = { ...leaky.input.principal, token: 'eyJhbGciOiJFUzI1NiJ9.e30.sig' };
    expect(() => recorder.record({ ...leaky, input: { ...leaky.input, principal } })).toThrow(/token/);
    void recorder.close();
  });

  it('refuses a decision that breaks the PolicyDecision contract', () => {
    const recorder = manualRecorder();
    expect(() => recorder.record({ ...decision('t', true), reasonCode: 'TENANT_MISMATCH' })).toThrow(/ALLOWED/);
    void recorder.close();
  });

  it('queues decisions unchecked when told to (production: the services built them from typed, verified parts)', () => {
    const recorder = manualRecorder({ checkContracts: false });
    expect(() => recorder.record({ ...decision('t', true), reasonCode: 'TENANT_MISMATCH' })).not.toThrow();
    void recorder.close();
  });
});
