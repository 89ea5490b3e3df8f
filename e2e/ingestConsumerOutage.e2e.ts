import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { consumerLag, createIngestHarness, waitFor } from './ingestProcesses';

/**
 * The consumer is stopped for 60 s while producers keep writing to Kafka;
 * after the restart the lag returns to zero, every record is stored once,
 * and the catch-up time is reported. This is the suite's one long test.
 */
const OUTAGE_MS = 60_000;
const RECORDS_PER_TICK = 50;
const TICK_MS = 100;

let harness: Awaited<ReturnType<typeof createIngestHarness>>;
let database: typeof harness.database;
let admin: typeof harness.admin;
let kafkaAdmin: typeof harness.kafkaAdmin;
let producer: typeof harness.producer;
let ingest: typeof harness.ingest;

beforeAll(async () => {
  harness = await createIngestHarness('ingest-outage', inject('services'));
  ({ database, admin, kafkaAdmin, producer, ingest } = harness);
});

afterAll(async () => {
  await harness?.stop();
});

it(`catches up after a ${OUTAGE_MS / 1_000} s consumer outage without loss or duplicates`, async () => {
  const tenantId = `${database.namespace}-outage`;
  await harness.registerTenant(tenantId);
  let produced = 0;
  const produceFor = async (durationMs: number) => {
    const until = Date.now() + durationMs;
    while (Date.now() < until) {
      const messages = Array.from({ length: RECORDS_PER_TICK }, (_, i) => {
        const signalId = `o-${produced + i}`;
        return {
          key: tenantId,
          value: JSON.stringify({
            tenantId,
            source: 'outage',
            signalId,
            ts: new Date(Date.now() - 1_000).toISOString(),
            type: 'load',
            value: 0.7,
          }),
        };
      });
      await producer.send({ topic: ingest.topic, acks: -1, messages });
      produced += messages.length;
      await sleep(TICK_MS);
    }
  };
  const stored = async () =>
    (await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM signal_ledger WHERE tenant_id = $1', [tenantId])).rows[0]!.n;

  const consumer = await ingest.startConsumer();
  await produceFor(2_000);
  await waitFor(
    'the consumer to keep up before the outage',
    async () => (await consumerLag(kafkaAdmin, ingest.groupId, ingest.topic)) === 0,
    30_000,
  );

  await consumer.stop();
  expect(await consumer.exited).toBe(0);
  await produceFor(OUTAGE_MS);
  const lagAtRestart = await consumerLag(kafkaAdmin, ingest.groupId, ingest.topic);
  expect(lagAtRestart).toBeGreaterThan(0);

  const restartedAt = Date.now();
  await ingest.startConsumer();
  await waitFor('the lag to return to zero', async () => (await consumerLag(kafkaAdmin, ingest.groupId, ingest.topic)) === 0, 120_000, 100);
  const catchUpMs = Date.now() - restartedAt;

  expect(await stored()).toBe(produced);
  const metrics = await (await fetch(`${ingest.consumerAdminUrl}/metrics`)).text();
  expect(metrics).toMatch(/ingest_events_processed_total\{transport="kafka"\} \d+/);
  console.info(
    `[outage] ${OUTAGE_MS / 1_000} s outage, ${lagAtRestart} records behind at restart; lag back to 0 in ${catchUpMs} ms ` +
      `(process start included; ${Math.round(lagAtRestart / (catchUpMs / 1_000))} records/s); ${produced} produced, ${produced} stored`,
  );
}, 240_000);
