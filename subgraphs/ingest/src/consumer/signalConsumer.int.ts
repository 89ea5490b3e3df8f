import { createLogger } from '@coherence/platform';
import { createTestDatabase, type TestDatabase } from '@coherence/testkit';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readIngestConsumerConfig } from '../config';
import { createConsumerService } from './createConsumerService';

/** The Kafka consumer against the real Kafka and Postgres: replay without duplicates, DLQ, backpressure, graceful stop. */
let database: TestDatabase;
let admin: pg.Pool;
let kafka: Kafka;
let kafkaAdmin: Admin;
let producer: Producer;
const started: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  admin = new pg.Pool({ connectionString: database.adminUrl });
  kafka = new Kafka({ clientId: 'signal-consumer-test', brokers: inject('services').kafkaBrokers, logLevel: logLevel.ERROR });
  kafkaAdmin = kafka.admin();
  await kafkaAdmin.connect();
  producer = kafka.producer();
  await producer.connect();
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
        INGEST_DATABASE_URL: database.appUrl,
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
    const metrics = await service.app.inject({ method: 'GET', url: '/metrics' });
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

    const consumer = kafka.consumer({ groupId: `${groupId}-reader` });
    await consumer.connect();
    await consumer.subscribe({ topic: dlqTopic, fromBeginning: true });
    const dead: {
      key: string | undefined;
      value: string | undefined;
      reason: { code: string; issues: { path: string; rule: string }[] };
      source: string;
    }[] = [];
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
    await waitFor('three dead letters', async () => dead.length === 3, 30_000);
    await consumer.disconnect();
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
