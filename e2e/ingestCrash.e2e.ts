import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { consumerLag, createIngestHarness, waitFor } from './ingestProcesses';

/**
 * SIGKILL both ingest processes while HTTP and Kafka load flows, restart
 * them, and check that every signal that got a 202 and every record Kafka
 * acknowledged is in the ledger exactly once, and in exactly one outbox event.
 */
let harness: Awaited<ReturnType<typeof createIngestHarness>>;
let database: typeof harness.database;
let admin: typeof harness.admin;
let kafkaAdmin: typeof harness.kafkaAdmin;
let producer: typeof harness.producer;
let ingest: typeof harness.ingest;

beforeAll(async () => {
  harness = await createIngestHarness('ingest-crash', inject('services'));
  ({ database, admin, kafkaAdmin, producer, ingest } = harness);
  await kafkaAdmin.createTopics({ waitForLeaders: true, topics: [{ topic: ingest.topic, numPartitions: 3 }] });
});

afterAll(async () => {
  await harness?.stop();
});

const tenant = (name: string) => `${database.namespace}-${name}`;
const signal = (tenantId: string, signalId: string) => ({
  tenantId,
  source: 'crash',
  signalId,
  ts: new Date(Date.now() - 60_000).toISOString(),
  type: 'load',
  value: 0.5,
});

it('loses and duplicates nothing when ingest is SIGKILLed under HTTP and Kafka load', async () => {
  let http = await ingest.startHttp();
  let consumer = await ingest.startConsumer();
  const httpTenant = tenant('http');
  const kafkaTenant = tenant('kafka');
  for (const tenantId of [httpTenant, kafkaTenant]) await harness.registerTenant(tenantId);
  const bearer = await ingest.token(httpTenant);
  const acceptedHttp = new Set<string>();
  const producedKafka = new Set<string>();
  let loadRunning = true;

  // HTTP producers: batches of 10 with an Idempotency-Key, retried until a 202 as a real producer would.
  const httpWorker = async (worker: number) => {
    for (let batch = 0; loadRunning; batch += 1) {
      const ids = Array.from({ length: 10 }, (_, i) => `h${worker}-${batch}-${i}`);
      const body = JSON.stringify({ signals: ids.map((id) => signal(httpTenant, id)) });
      for (;;) {
        const status = await fetch(`${ingest.httpUrl}/v1/signals`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}`, 'idempotency-key': `w${worker}-b${batch}` },
          body,
        }).then(
          (response) => response.status,
          () => 0,
        );
        if (status === 202) break;
        expect([0, 502, 503]).toContain(status);
        await sleep(100);
      }
      for (const id of ids) acceptedHttp.add(id);
    }
  };
  // Kafka producer: a record counts once the broker acknowledged it (acks=all).
  const kafkaWorker = async () => {
    for (let batch = 0; loadRunning; batch += 1) {
      const ids = Array.from({ length: 50 }, (_, i) => `k-${batch}-${i}`);
      await producer.send({
        topic: ingest.topic,
        acks: -1,
        messages: ids.map((id) => ({ key: kafkaTenant, value: JSON.stringify(signal(kafkaTenant, id)) })),
      });
      for (const id of ids) producedKafka.add(id);
      await sleep(20);
    }
  };
  const load = Promise.all([httpWorker(1), httpWorker(2), httpWorker(3), kafkaWorker()]);

  await sleep(3_000);
  process.kill(http.pid, 'SIGKILL');
  process.kill(consumer.pid, 'SIGKILL');
  expect(await http.exited).toBeNull();
  expect(await consumer.exited).toBeNull();
  const acceptedBeforeKill = acceptedHttp.size;
  await sleep(1_000);
  http = await ingest.startHttp();
  consumer = await ingest.startConsumer();
  await sleep(3_000);
  loadRunning = false;
  await load;

  await waitFor('the consumer to catch up', async () => (await consumerLag(kafkaAdmin, ingest.groupId, ingest.topic)) === 0, 60_000);
  const { rows } = await admin.query<{ tenant_id: string; signal_id: string }>(
    'SELECT tenant_id, signal_id FROM signal_ledger WHERE tenant_id = ANY($1)',
    [[httpTenant, kafkaTenant]],
  );
  const stored = (tenantId: string) => rows.filter((r) => r.tenant_id === tenantId).map((r) => r.signal_id);
  expect(acceptedBeforeKill).toBeGreaterThan(0);
  expect(new Set(stored(httpTenant))).toEqual(acceptedHttp);
  expect(new Set(stored(kafkaTenant))).toEqual(producedKafka);
  expect(stored(httpTenant)).toHaveLength(acceptedHttp.size);
  expect(stored(kafkaTenant)).toHaveLength(producedKafka.size);

  // Ledger and outbox commit together: each stored signal is in exactly one outbox event.
  const outbox = await admin.query<{ signal_id: string; copies: number }>(
    `SELECT s ->> 'signalId' AS signal_id, count(*)::int AS copies
       FROM outbox, jsonb_array_elements(envelope #> '{payload,signals}') AS s
      WHERE tenant_id = ANY($1) GROUP BY 1`,
    [[httpTenant, kafkaTenant]],
  );
  expect(outbox.rows).toHaveLength(rows.length);
  expect(outbox.rows.every((r) => r.copies === 1)).toBe(true);
  console.info(
    `[crash] ${acceptedHttp.size} HTTP signals acknowledged (${acceptedBeforeKill} before the kill), ${producedKafka.size} Kafka records; all stored exactly once`,
  );
}, 150_000);
