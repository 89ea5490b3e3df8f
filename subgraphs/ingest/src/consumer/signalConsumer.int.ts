import { createLogger, createPgPool, type PgPool } from '@coherence/platform';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readIngestConsumerConfig } from '../config';
import { createConsumerService } from './createConsumerService';

type ConsumerService = Awaited<ReturnType<typeof createConsumerService>>;

/** The Kafka consumer against the real Kafka and Postgres: replay without duplicates, DLQ, the write policy, backpressure, graceful stop. */
let database: TestDatabase;
let admin: PgPool;
let kafka: Kafka;
let kafkaAdmin: Admin;
let producer: Producer;
const started: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  admin = createPgPool(database.adminUrl);
  kafka = new Kafka({ clientId: 'signal-consumer-test', brokers: inject('services').kafkaBrokers, logLevel: logLevel.ERROR });
  kafkaAdmin = kafka.admin();
  await kafkaAdmin.connect();
  producer = kafka.producer();
  await producer.connect();
  // The write policy dead-letters records of unregistered tenants: every tenant these tests store is registered here.
  const stored = [
    'replay0',
    'replay1',
    'replay2',
    'replay3',
    'replay4',
    'dlq',
    'pause',
    'stop0',
    'stop1',
    'stop2',
    'refused',
    'outage',
    'hung',
  ];
  await admin.query(`INSERT INTO tenants (tenant_id, residency) SELECT unnest($1::text[]), 'us'`, [stored.map(tenant)]);
});

afterAll(async () => {
  await Promise.all(started.map((s) => s.close()));
  await producer?.disconnect();
  await kafkaAdmin?.disconnect();
  await admin?.end();
  await database?.drop();
});

/** Each test its own topics and group, so their offsets and lags are its own. */
function setup(name: string, env: Record<string, string> = {}) {
  const topic = `${database.namespace}.${name}.signals`;
  const dlqTopic = `${database.namespace}.${name}.dlq`;
  const groupId = `${database.namespace}-${name}`;
  const start = async () => {
    const service = await createConsumerService(
      readIngestConsumerConfig({
        INGEST_DATABASE_URL: database.urls.ingest,
        INGEST_REGION: 'us',
        INGEST_DECISION_FLUSH_MS: '20',
        KAFKA_BROKERS: inject('services').kafkaBrokers.join(','),
        INGEST_SIGNALS_TOPIC: topic,
        INGEST_SIGNALS_DLQ_TOPIC: dlqTopic,
        INGEST_CONSUMER_GROUP: groupId,
        INGEST_BACKLOG_PAUSE_ABOVE: '1000000',
        INGEST_BACKLOG_RESUME_BELOW: '500000',
        INGEST_BACKLOG_POLL_MS: '100',
        ...env,
      }),
      createLogger('ingest-consumer', 'silent'),
    );
    started.push(service);
    return service;
  };
  return { topic, dlqTopic, groupId, start };
}

const tenant = (name: string) => `${database.namespace}-${name}`;

function signal(tenantName: string, signalId: string, value = 0.5) {
  return { tenantId: tenant(tenantName), source: 'orders', signalId, ts: '2026-11-24T10:00:00Z', type: 'errors', value };
}

async function produce(topic: string, records: { key: string | null; value: string }[]) {
  for (let i = 0; i < records.length; i += 1_000) {
    await producer.send({ topic, acks: -1, messages: records.slice(i, i + 1_000) });
  }
}

async function lag(groupId: string, topic: string): Promise<number> {
  const [ends, committed] = await Promise.all([kafkaAdmin.fetchTopicOffsets(topic), kafkaAdmin.fetchOffsets({ groupId, topics: [topic] })]);
  const committedOf = (partition: number) => Number(committed[0]?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
  return ends.reduce((sum, end) => sum + Number(end.high) - Math.max(committedOf(end.partition), Number(end.low)), 0);
}

async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

interface DeadLetter {
  key: string | undefined;
  value: string | undefined;
  reason: { code: string; issues: { path: string; rule: string; message: string }[] };
  source: string;
}

/** The first `count` records of a dead-letter topic, read by a group of its own. */
async function readDeadLetters(dlqTopic: string, count: number): Promise<DeadLetter[]> {
  const consumer = kafka.consumer({ groupId: `${dlqTopic}-reader` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: dlqTopic, fromBeginning: true });
    const dead: DeadLetter[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        dead.push({
          key: message.key?.toString(),
          value: message.value?.toString(),
          reason: JSON.parse(message.headers!['dlq-reason']!.toString()) as never,
          source: message.headers!['dlq-source']!.toString(),
        });
      },
    });
    await waitFor(`${count} dead letters`, async () => dead.length >= count, 30_000);
    return dead;
  } finally {
    await consumer.disconnect();
  }
}

/** Records ever written to `topic` (all partitions). */
async function recordsIn(topic: string): Promise<number> {
  const offsets = await kafkaAdmin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

async function readiness(service: ConsumerService): Promise<{ status: number; checks: { name: string; ok: boolean; error?: string }[] }> {
  const response = await service.admin.inject({ method: 'GET', url: '/readyz' });
  return { status: response.statusCode, checks: (response.json() as { checks: { name: string; ok: boolean; error?: string }[] }).checks };
}

/** The value of an unlabelled metric, or of the one series whose line starts with `series`. */
async function metric(service: ConsumerService, series: string): Promise<number | undefined> {
  const body = (await service.admin.inject({ method: 'GET', url: '/metrics' })).body;
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

async function ledgerCount(tenantPrefix: string): Promise<number> {
  const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM signal_ledger WHERE tenant_id LIKE $1', [
    `${tenant(tenantPrefix)}%`,
  ]);
  return rows[0]!.n;
}

describe('Kafka consumer', () => {
  it('stores 10,000 records produced twice exactly once (0 duplicates), and commits every offset', async () => {
    const { topic, groupId, start } = setup('replay');
    const service = await start();
    const records = Array.from({ length: 10_000 }, (_, i) => {
      const value = signal(`replay${i % 5}`, `r-${i}`, (i % 100) / 100);
      return { key: value.tenantId, value: JSON.stringify(value) };
    });
    const startedAt = Date.now();
    await produce(topic, records);
    await waitFor('the first 10,000 to be stored', async () => (await ledgerCount('replay')) === 10_000);
    await produce(topic, records);
    await waitFor('the replay to be consumed', async () => (await lag(groupId, topic)) === 0);
    const elapsedMs = Date.now() - startedAt;

    const { rows } = await admin.query<{ stored: number; distinct_keys: number; outboxed: number; accepted: string; deduped: string }>(
      `SELECT (SELECT count(*)::int FROM signal_ledger WHERE tenant_id LIKE $1) AS stored,
              (SELECT count(DISTINCT (tenant_id, source, signal_id, ts))::int FROM signal_ledger WHERE tenant_id LIKE $1) AS distinct_keys,
              (SELECT coalesce(sum(jsonb_array_length(envelope #> '{payload,signals}')), 0)::int FROM outbox WHERE tenant_id LIKE $1) AS outboxed,
              (SELECT sum(accepted) FROM ingest_counters WHERE tenant_id LIKE $1) AS accepted,
              (SELECT sum(deduped) FROM ingest_counters WHERE tenant_id LIKE $1) AS deduped`,
      [`${tenant('replay')}%`],
    );
    expect(rows[0]).toEqual({ stored: 10_000, distinct_keys: 10_000, outboxed: 10_000, accepted: '10000', deduped: '10000' });
    const metrics = await service.admin.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('ingest_events_processed_total{transport="kafka"} 20000');
    expect(metrics.body).toContain('ingest_signals_deduped_total{transport="kafka"} 10000');
    const lags = metrics.body.split('\n').filter((line) => line.startsWith('ingest_consumer_lag{'));
    expect(lags.length).toBeGreaterThan(0);
    expect(lags.map((line) => line.split(' ').at(-1))).toEqual(lags.map(() => '0'));
    console.info(`[replay] 2 × 10,000 records consumed in ${elapsedMs} ms; duplicates stored: 0`);
  }, 180_000);

  it('sends invalid records to the DLQ with the reason and original bytes, without blocking the partition', async () => {
    const { topic, dlqTopic, groupId, start } = setup('dlq', { INGEST_TOPIC_PARTITIONS: '1' });
    await start();
    const good = (id: string) => JSON.stringify(signal('dlq', id));
    const bad = [
      { key: tenant('dlq'), value: '{"tenantId": oops' },
      { key: tenant('dlq'), value: JSON.stringify({ ...signal('dlq', 'x'), value: 3, colour: 'red' }) },
      { key: tenant('other'), value: good('wrong-key') },
    ];
    await produce(topic, [{ key: tenant('dlq'), value: good('g1') }, ...bad, { key: null, value: good('g2') }]);
    await waitFor('the partition to be consumed', async () => (await lag(groupId, topic)) === 0);
    const { rows } = await admin.query<{ signal_id: string }>('SELECT signal_id FROM signal_ledger WHERE tenant_id = $1 ORDER BY 1', [
      tenant('dlq'),
    ]);
    expect(rows.map((r) => r.signal_id)).toEqual(['g1', 'g2']);

    const dead = await readDeadLetters(dlqTopic, 3);
    expect(dead.map((d) => ({ key: d.key, value: d.value }))).toEqual(bad);
    expect(dead[0]!.reason).toMatchObject({ code: 'MALFORMED_JSON' });
    expect(dead[1]!.reason.code).toBe('INVALID_SIGNAL');
    expect(dead[1]!.reason.issues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'value', rule: 'max' }),
        expect.objectContaining({ path: 'colour', rule: 'unknown_field' }),
      ]),
    );
    expect(dead[2]!.reason.issues).toEqual([expect.objectContaining({ path: 'tenantId', rule: 'tenant_mismatch' })]);
    expect(dead.map((d) => d.source)).toEqual([`${topic}/0/1`, `${topic}/0/2`, `${topic}/0/3`]);
  });

  it('pauses fetching while the outbox backlog is over its bound and resumes below it', async () => {
    const { topic, start } = setup('pause', { INGEST_BACKLOG_PAUSE_ABOVE: '300', INGEST_BACKLOG_RESUME_BELOW: '100' });
    const service = await start();
    // The backlog bound is over all tenants; earlier tests' outbox rows count too, so project them first.
    await admin.query('UPDATE outbox SET processed_at = now() WHERE processed_at IS NULL');
    await produce(
      topic,
      Array.from({ length: 3_000 }, (_, i) => ({ key: tenant('pause'), value: JSON.stringify(signal('pause', `p-${i}`)) })),
    );
    await waitFor('the consumer to pause', async () => service.consumer.isPaused());
    // A slice already inside its transaction when the bound was crossed still commits; no new one starts.
    await sleep(1_000);
    const whilePaused = await ledgerCount('pause');
    await sleep(1_500);
    expect(service.consumer.isPaused()).toBe(true);
    expect(await ledgerCount('pause')).toBe(whilePaused);
    expect(whilePaused).toBeLessThan(3_000);

    // Play the relay: project what is pending until everything is in.
    await waitFor('all records to be stored while the backlog is drained', async () => {
      await admin.query('UPDATE outbox SET processed_at = now() WHERE processed_at IS NULL');
      return (await ledgerCount('pause')) === 3_000;
    });
    await admin.query('UPDATE outbox SET processed_at = now() WHERE processed_at IS NULL');
    await waitFor('the consumer to resume', async () => !service.consumer.isPaused());
  });

  it('on close, commits what it stored and stops; a restart continues without loss or duplicates', async () => {
    const { topic, groupId, start } = setup('stop');
    const total = 6_000;
    await kafkaAdmin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3 }] });
    await produce(
      topic,
      Array.from({ length: total }, (_, i) => ({ key: tenant(`stop${i % 3}`), value: JSON.stringify(signal(`stop${i % 3}`, `s-${i}`)) })),
    );
    const first = await start();
    await waitFor('some records to be stored', async () => (await ledgerCount('stop')) > 0);
    await first.close();
    started.splice(started.indexOf(first), 1);
    const storedAtStop = await ledgerCount('stop');
    const committedAtStop = total - (await lag(groupId, topic));
    expect(committedAtStop).toBe(storedAtStop);

    await start();
    await waitFor('the rest to be consumed', async () => (await lag(groupId, topic)) === 0);
    expect(await ledgerCount('stop')).toBe(total);
  });
});

describe('Kafka consumer write policy', () => {
  it('dead-letters the records of an unregistered tenant (TENANT_UNKNOWN), of a tenant of another region (RESIDENCY_VIOLATION) and of a suspended one (TENANT_SUSPENDED), with decisions, and the partition flows on', async () => {
    const { topic, dlqTopic, groupId, start } = setup('policy', { INGEST_TOPIC_PARTITIONS: '1' });
    await admin.query(
      `INSERT INTO tenants (tenant_id, residency, suspended_at) VALUES ($1, 'us', NULL), ($2, 'eu', NULL), ($3, 'us', now())`,
      [tenant('policy-us'), tenant('policy-eu'), tenant('policy-paused')],
    );
    const service = await start();
    const record = (tenantName: string, id: string, requestId: string) => ({
      key: tenant(tenantName),
      value: JSON.stringify(signal(tenantName, id)),
      headers: { 'x-request-id': requestId },
    });
    const [unknownId, euId, usId, pausedId] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    await producer.send({
      topic,
      acks: -1,
      messages: [
        record('policy-unknown', 'u1', unknownId),
        record('policy-us', 'g1', usId),
        record('policy-eu', 'e1', euId),
        record('policy-unknown', 'u2', unknownId),
        record('policy-us', 'g2', usId),
        record('policy-paused', 'p1', pausedId),
      ],
    });
    await waitFor('the partition to be consumed', async () => (await lag(groupId, topic)) === 0);

    const { rows } = await admin.query<{ tenant_id: string; signal_id: string }>(
      'SELECT tenant_id, signal_id FROM signal_ledger WHERE tenant_id LIKE $1 ORDER BY 2',
      [`${tenant('policy')}%`],
    );
    expect(rows).toEqual([
      { tenant_id: tenant('policy-us'), signal_id: 'g1' },
      { tenant_id: tenant('policy-us'), signal_id: 'g2' },
    ]);
    const dead = await readDeadLetters(dlqTopic, 4);
    expect(dead.map((d) => ({ key: d.key, code: d.reason.code, source: d.source }))).toEqual([
      { key: tenant('policy-unknown'), code: 'TENANT_UNKNOWN', source: `${topic}/0/0` },
      { key: tenant('policy-eu'), code: 'RESIDENCY_VIOLATION', source: `${topic}/0/2` },
      { key: tenant('policy-unknown'), code: 'TENANT_UNKNOWN', source: `${topic}/0/3` },
      { key: tenant('policy-paused'), code: 'TENANT_SUSPENDED', source: `${topic}/0/5` },
    ]);
    expect(dead[1]!.reason.issues).toEqual([
      { path: 'tenantId', rule: 'residency_violation', message: `tenant ${tenant('policy-eu')} resides in eu, not in us` },
    ]);
    expect(await metric(service, 'ingest_dlq_records_total{code="TENANT_UNKNOWN"}')).toBe(2);
    expect(await metric(service, 'ingest_dlq_records_total{code="RESIDENCY_VIOLATION"}')).toBe(1);
    expect(await metric(service, 'ingest_dlq_records_total{code="TENANT_SUSPENDED"}')).toBe(1);

    // One decision per tenant and slice, as the consumer acting for the record's tenant; an unregistered one filed under '-'.
    const decisions = async () =>
      (
        await admin.query<Record<string, unknown>>(
          `SELECT tenant_id, subject, client_id, operation_id, operation_type, allow, reason_code, correlation_id, region
             FROM policy_decisions WHERE correlation_id = ANY($1) ORDER BY reason_code`,
          [[unknownId, euId, usId, pausedId]],
        )
      ).rows;
    await waitFor('the decisions to be written', async () => (await decisions()).length >= 4, 5_000);
    const common = {
      subject: 'service:ingest-consumer',
      client_id: null,
      operation_id: `kafka:${topic}`,
      operation_type: 'ingest',
      region: 'us',
    };
    expect(await decisions()).toEqual([
      { ...common, tenant_id: tenant('policy-us'), allow: true, reason_code: 'ALLOWED', correlation_id: usId },
      { ...common, tenant_id: tenant('policy-eu'), allow: false, reason_code: 'RESIDENCY_VIOLATION', correlation_id: euId },
      { ...common, tenant_id: tenant('policy-paused'), allow: false, reason_code: 'TENANT_SUSPENDED', correlation_id: pausedId },
      { ...common, tenant_id: '-', allow: false, reason_code: 'TENANT_UNKNOWN', correlation_id: unknownId },
    ]);
  });
});

describe('Kafka consumer failure isolation and readiness', () => {
  it('dead-letters a valid record that Postgres refuses (STORE_FAILED) and stores the three after it with the same key', async () => {
    const { topic, dlqTopic, groupId, start } = setup('refused', { INGEST_TOPIC_PARTITIONS: '1' });
    // A record that passes validation and still cannot be stored (as a NUL in `source` could, before
    // validation refused it): this database's ledger refuses one signal id with SQLSTATE 23514.
    // Injected in the real database, so the consumer sees exactly what Postgres answers.
    await admin.query(`ALTER TABLE signal_ledger ADD CONSTRAINT refuse_poison CHECK (signal_id <> 'poison')`);
    try {
      const service = await start();
      await waitFor('the consumer to be ready', async () => (await readiness(service)).status === 200);
      const poison = JSON.stringify(signal('refused', 'poison'));
      const good = ['g1', 'g2', 'g3'].map((id) => ({ key: tenant('refused'), value: JSON.stringify(signal('refused', id)) }));
      const producedAt = Date.now();
      await produce(topic, [{ key: tenant('refused'), value: poison }, ...good]);
      await waitFor('the partition to be consumed past all four records', async () => (await lag(groupId, topic)) === 0, 20_000);
      const elapsedMs = Date.now() - producedAt;

      const { rows } = await admin.query<{ signal_id: string }>('SELECT signal_id FROM signal_ledger WHERE tenant_id = $1 ORDER BY 1', [
        tenant('refused'),
      ]);
      expect(rows.map((r) => r.signal_id)).toEqual(['g1', 'g2', 'g3']);
      const [dead] = await readDeadLetters(dlqTopic, 1);
      expect(dead).toMatchObject({ key: tenant('refused'), value: poison, source: `${topic}/0/0` });
      expect(dead!.reason).toEqual({
        code: 'STORE_FAILED',
        issues: [{ path: '', rule: 'store_failed', message: expect.stringMatching(/^23514 .*refuse_poison/) as unknown }],
      });
      expect(await recordsIn(dlqTopic)).toBe(1);
      expect(await metric(service, 'ingest_dlq_records_total{code="STORE_FAILED"}')).toBe(1);
      expect(elapsedMs).toBeLessThan(10_000);
      console.info(`[refused] 1 refused + 3 valid records consumed in ${elapsedMs} ms`);
    } finally {
      await admin.query('ALTER TABLE signal_ledger DROP CONSTRAINT refuse_poison');
    }
  });

  it('retries the same records while the database is unavailable: not ready, nothing dead-lettered, all stored once after it is back', async () => {
    const { topic, dlqTopic, groupId, start } = setup('outage', { INGEST_TOPIC_PARTITIONS: '1', INGEST_CONSUMER_STALL_SECONDS: '2' });
    const service = await start();
    await waitFor('the consumer to be ready', async () => (await readiness(service)).status === 200);
    const total = 300;
    // The outage: ingest_app may open no connection to this database (SQLSTATE 53300) and loses
    // the ones it holds (57P01). The superuser the test asserts with is exempt from the limit.
    await admin.query(`ALTER DATABASE ${database.name} CONNECTION LIMIT 0`);
    try {
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND usename = 'ingest_app'`, [
        database.name,
      ]);
      await produce(
        topic,
        Array.from({ length: total }, (_, i) => ({ key: tenant('outage'), value: JSON.stringify(signal('outage', `o-${i}`)) })),
      );
      await waitFor('the consumer to report the stall', async () => {
        const ready = await readiness(service);
        return ready.status === 503 && ready.checks.some((c) => c.name === 'progress' && !c.ok);
      });
      await waitFor('the stalled gauge', async () => (await metric(service, 'ingest_consumer_stalled')) === 1, 5_000);
      expect(await metric(service, 'ingest_consumer_store_retries_total{kind="transient"}')).toBeGreaterThan(0);
      expect(await metric(service, 'ingest_consumer_store_retries_total{kind="unknown"}')).toBeUndefined();
      expect(await ledgerCount('outage')).toBe(0);
    } finally {
      await admin.query(`ALTER DATABASE ${database.name} CONNECTION LIMIT -1`);
    }

    await waitFor('the records to be consumed after the outage', async () => (await lag(groupId, topic)) === 0, 30_000);
    const { rows } = await admin.query<{ stored: number; distinct_keys: number; outboxed: number }>(
      `SELECT (SELECT count(*)::int FROM signal_ledger WHERE tenant_id = $1) AS stored,
              (SELECT count(DISTINCT signal_id)::int FROM signal_ledger WHERE tenant_id = $1) AS distinct_keys,
              (SELECT coalesce(sum(jsonb_array_length(envelope #> '{payload,signals}')), 0)::int FROM outbox WHERE tenant_id = $1) AS outboxed`,
      [tenant('outage')],
    );
    expect(rows[0]).toEqual({ stored: total, distinct_keys: total, outboxed: total });
    expect(await recordsIn(dlqTopic)).toBe(0);
    await waitFor('the consumer to be ready again', async () => (await readiness(service)).status === 200, 10_000);
    // The gauge follows within one INGEST_BACKLOG_POLL_MS tick.
    await waitFor('the stalled gauge to clear', async () => (await metric(service, 'ingest_consumer_stalled')) === 0, 5_000);
  });

  it('is not ready while a statement hangs with records pending, though Postgres answers, and ready again once it commits', async () => {
    const { topic, groupId, start } = setup('hung', { INGEST_TOPIC_PARTITIONS: '1', INGEST_CONSUMER_STALL_SECONDS: '2' });
    const service = await start();
    await waitFor('the consumer to be ready', async () => (await readiness(service)).status === 200);
    // No error at all: the ledger is locked, so the consumer's insert waits. Only the stall shows it.
    const locker = await admin.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE signal_ledger IN ACCESS EXCLUSIVE MODE');
      await produce(topic, [{ key: tenant('hung'), value: JSON.stringify(signal('hung', 'h1')) }]);
      await waitFor('the consumer to report the stall', async () => (await readiness(service)).status === 503);
      const { checks } = await readiness(service);
      expect(checks.filter((c) => !c.ok)).toEqual([
        { name: 'progress', ok: false, error: expect.stringMatching(/^no record committed for \d+ s with 1 pending/) as unknown },
      ]);
      await waitFor('the stalled gauge', async () => (await metric(service, 'ingest_consumer_stalled')) === 1, 5_000);
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
    await waitFor('the record to be committed', async () => (await lag(groupId, topic)) === 0, 10_000);
    expect(await ledgerCount('hung')).toBe(1);
    expect((await readiness(service)).status).toBe(200);
    await waitFor('the stalled gauge to clear', async () => (await metric(service, 'ingest_consumer_stalled')) === 0, 5_000);
  });
});
