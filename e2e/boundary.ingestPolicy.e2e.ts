import { createConsumerService, readIngestConsumerConfig } from '@coherence/ingest';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createLogger, createPgPool, type PgPool } from '@coherence/platform';
import { createTestDatabase, startApplication, type TestDatabase } from '@coherence/testkit';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * Issue 14, the trust boundary at ingest: writes reach the ledger only for a
 * tenant that is registered and resides in ingest's region, over HTTP (a
 * valid producer token is not enough) and over Kafka (a trusted producer is
 * not either). Each attack is refused as the README says, leaves nothing in
 * the ledger or the read model, and leaves a decision row that names no
 * tenant of the attacker's choosing; Kafka's partition keeps flowing.
 */
const tenantCoherenceId = manifest.operations.find((op) => op.name === 'TenantCoherence')!.id;

let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
let admin: PgPool;
let consumer: Awaited<ReturnType<typeof createConsumerService>>;
let kafkaAdmin: Admin;
let producer: Producer;
let topic: string;
let dlqTopic: string;
let groupId: string;

const tenant = (name: string) => `${database.namespace}-${name}`;

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  app = await startApplication(services, database);
  admin = createPgPool(database.adminUrl, { max: 2 });
  await app.registerTenant(tenant('home'));
  await app.registerTenant(tenant('abroad'), 'eu');
  topic = `${database.namespace}.boundary.signals`;
  dlqTopic = `${database.namespace}.boundary.dlq`;
  groupId = `${database.namespace}-boundary`;
  consumer = await createConsumerService(
    readIngestConsumerConfig({
      INGEST_DATABASE_URL: database.appUrl,
      INGEST_REGION: 'us',
      INGEST_DECISION_FLUSH_MS: '20',
      KAFKA_BROKERS: services.kafkaBrokers.join(','),
      INGEST_SIGNALS_TOPIC: topic,
      INGEST_SIGNALS_DLQ_TOPIC: dlqTopic,
      INGEST_CONSUMER_GROUP: groupId,
      INGEST_TOPIC_PARTITIONS: '1',
    }),
    createLogger('ingest-consumer', 'silent'),
  );
  const kafka = new Kafka({ clientId: 'boundary-ingest-policy', brokers: services.kafkaBrokers, logLevel: logLevel.NOTHING });
  kafkaAdmin = kafka.admin();
  await kafkaAdmin.connect();
  producer = kafka.producer();
  await producer.connect();
});

afterAll(async () => {
  await producer?.disconnect();
  await kafkaAdmin?.disconnect();
  await consumer?.close();
  await app?.stop();
  await admin?.end();
  await database?.drop();
});

let nextId = 0;
const signalOf = (tenantId: string) => ({
  tenantId,
  source: 'boundary',
  signalId: `b-${(nextId += 1)}`,
  ts: new Date(Date.now() - 60_000).toISOString(),
  type: 'latency',
  value: 0.5,
});

async function push(tenantId: string, claims: { tenant: string; residency?: string[] }) {
  const correlationId = randomUUID();
  const bearer = await app.mintToken({ ...claims, scopes: ['coherence:write:self'] });
  const response = await fetch(`${app.ingestUrl}/v1/signals`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}`, 'x-request-id': correlationId },
    body: JSON.stringify({ signals: [signalOf(tenantId)] }),
  });
  return { status: response.status, body: (await response.json()) as { error?: { code: string; reason?: string } }, correlationId };
}

async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The decisions filed for `correlationIds`: tenant, reason and whether allowed. */
async function decisions(correlationIds: string[], atLeast: number) {
  const read = async () =>
    (
      await admin.query<{ tenant_id: string; reason_code: string; allow: boolean }>(
        'SELECT tenant_id, reason_code, allow FROM policy_decisions WHERE correlation_id = ANY($1) ORDER BY decided_at',
        [correlationIds],
      )
    ).rows;
  await waitFor(`${atLeast} decisions`, async () => (await read()).length >= atLeast, 5_000);
  return read();
}

const ledgerCount = async (tenantId: string) =>
  (await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM signal_ledger WHERE tenant_id = $1', [tenantId])).rows[0]!.n;

describe('HTTP: a valid producer token is not enough to write', () => {
  it('a token minted for a tenant nobody registered: 403 TENANT_UNKNOWN, nothing stored, the decision filed under -', async () => {
    const madeUp = tenant('made-up');
    const { status, body, correlationId } = await push(madeUp, { tenant: madeUp });
    expect(status).toBe(403);
    expect(body.error?.code).toBe('TENANT_UNKNOWN');
    expect(await ledgerCount(madeUp)).toBe(0);
    expect(await decisions([correlationId], 1)).toEqual([{ tenant_id: '-', reason_code: 'TENANT_UNKNOWN', allow: false }]);
  });

  it('a tenant residing in eu pushing to the us ingest, its token claiming us: 403 RESIDENCY_VIOLATION, nothing stored', async () => {
    const { status, body, correlationId } = await push(tenant('abroad'), { tenant: tenant('abroad'), residency: ['us', 'eu'] });
    expect(status).toBe(403);
    expect(body.error).toMatchObject({ code: 'FORBIDDEN', reason: 'RESIDENCY_VIOLATION' });
    expect(await ledgerCount(tenant('abroad'))).toBe(0);
    expect(await decisions([correlationId], 1)).toEqual([
      { tenant_id: tenant('abroad'), reason_code: 'RESIDENCY_VIOLATION', allow: false },
    ]);
  });

  it('a token that may not act in us, for a tenant residing in us: 403 RESIDENCY_VIOLATION', async () => {
    const { status, body } = await push(tenant('home'), { tenant: tenant('home'), residency: ['eu'] });
    expect(status).toBe(403);
    expect(body.error).toMatchObject({ code: 'FORBIDDEN', reason: 'RESIDENCY_VIOLATION' });
  });

  it('probing whether another tenant is registered learns nothing: TENANT_MISMATCH either way, no decision filed', async () => {
    const registered = await push(tenant('abroad'), { tenant: tenant('home') });
    const unregistered = await push(tenant('nobody'), { tenant: tenant('home') });
    expect([registered.status, registered.body.error?.reason]).toEqual([403, 'TENANT_MISMATCH']);
    expect([unregistered.status, unregistered.body.error?.reason]).toEqual([403, 'TENANT_MISMATCH']);
    // The mismatch is refused before the policy is asked, so nothing is decided about either tenant.
    await sleep(200);
    const { rows } = await admin.query('SELECT 1 FROM policy_decisions WHERE correlation_id = ANY($1)', [
      [registered.correlationId, unregistered.correlationId],
    ]);
    expect(rows).toEqual([]);
  });

  it('the registered home tenant is written and read back through the gateway: 202 and an ALLOWED decision', async () => {
    const { status, correlationId } = await push(tenant('home'), { tenant: tenant('home') });
    expect(status).toBe(202);
    expect(await decisions([correlationId], 1)).toEqual([{ tenant_id: tenant('home'), reason_code: 'ALLOWED', allow: true }]);
    await app.relay.drainAll();
    const read = await fetch(`${app.gatewayUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await app.readHeaders(tenant('home'))) },
      body: JSON.stringify({
        extensions: { persistedQuery: { version: 1, sha256Hash: tenantCoherenceId } },
        variables: { tenantId: tenant('home') },
      }),
    });
    const body = (await read.json()) as { data?: { tenantCoherence: { score: number | null } | null } };
    expect(body.data?.tenantCoherence?.score).toBe(0.5);
  });
});

describe('Kafka: a trusted producer cannot write tenants that are not registered here', () => {
  it('dead-letters a flood of made-up tenants and an eu tenant with their reasons, stores the good records behind them, and files no decision under a made-up name', async () => {
    const requestId = randomUUID();
    const record = (tenantId: string) => ({
      key: tenantId,
      value: JSON.stringify(signalOf(tenantId)),
      headers: { 'x-request-id': requestId },
    });
    const madeUp = Array.from({ length: 200 }, (_, i) => tenant(`flood-${i}`));
    const before = await ledgerCount(tenant('home'));
    await producer.send({
      topic,
      acks: -1,
      messages: [...madeUp.map(record), record(tenant('abroad')), record(tenant('home')), record(tenant('home'))],
    });
    await waitFor('the partition to be consumed', async () => {
      const [ends, committed] = await Promise.all([
        kafkaAdmin.fetchTopicOffsets(topic),
        kafkaAdmin.fetchOffsets({ groupId, topics: [topic] }),
      ]);
      return Number(committed[0]!.partitions[0]!.offset) === Number(ends[0]!.high);
    });

    expect(await ledgerCount(tenant('home'))).toBe(before + 2);
    const { rows: stored } = await admin.query('SELECT 1 FROM signal_ledger WHERE tenant_id = ANY($1)', [[...madeUp, tenant('abroad')]]);
    expect(stored).toEqual([]);
    const dlq = (await kafkaAdmin.fetchTopicOffsets(dlqTopic)).reduce((sum, p) => sum + Number(p.high), 0);
    expect(dlq).toBe(201);
    const metrics = await consumer.admin.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('ingest_dlq_records_total{code="TENANT_UNKNOWN"} 200');
    expect(metrics.body).toContain('ingest_dlq_records_total{code="RESIDENCY_VIOLATION"} 1');

    const filed = await decisions([requestId], 202);
    expect(filed.filter((d) => d.reason_code === 'TENANT_UNKNOWN').every((d) => d.tenant_id === '-')).toBe(true);
    expect(new Set(filed.map((d) => `${d.tenant_id} ${d.reason_code}`))).toEqual(
      new Set(['- TENANT_UNKNOWN', `${tenant('abroad')} RESIDENCY_VIOLATION`, `${tenant('home')} ALLOWED`]),
    );
  });
});
