import { createRelayService, readRelayConfig } from '@coherence/coherence';
import { createWorkerService, readCommsWorkerConfig } from '@coherence/comms';
import { createTestDatabase, unleashClientEnv, type TestDatabase } from '@coherence/devservices';
import { panelQueries, recorded, seriesNamesOf } from '@coherence/grafana';
import { createConsumerService, readIngestConsumerConfig } from '@coherence/ingest';
import { createLogger } from '@coherence/platform';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApplication } from './support/startApplication';

const services = inject('services');
const logger = createLogger('test', 'silent');

/**
 * The series names one `/metrics` body exports, from its `# TYPE` lines, so a
 * labelled metric that has seen no sample yet counts too; a histogram exports
 * `_bucket`, `_count` and `_sum` series.
 */
function exportedSeries(exposition: string): string[] {
  return [...exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name = '', type]) =>
    type === 'histogram'
      ? [`${name}_bucket`, `${name}_count`, `${name}_sum`]
      : type === 'summary'
        ? [name, `${name}_count`, `${name}_sum`]
        : [name],
  );
}

/**
 * Issue 15's dashboards name only series that exist: each one a panel
 * queries is exported by a process of the running application (the
 * gateway, the three subgraphs, the relay, the ingest consumer and the comms
 * worker, each scraped on its admin listener), or is a recording rule's
 * (grafana/src/series.ts `recorded`).
 */
describe('the dashboards against the running application', () => {
  let database: TestDatabase;
  let app: Awaited<ReturnType<typeof startApplication>>;
  let relay: Awaited<ReturnType<typeof createRelayService>>;
  let consumer: Awaited<ReturnType<typeof createConsumerService>>;
  let worker: Awaited<ReturnType<typeof createWorkerService>>;

  beforeAll(async () => {
    database = await createTestDatabase(services);
    app = await startApplication(services, database);
    relay = await createRelayService(
      readRelayConfig({
        RELAY_DATABASE_URL: database.urls.relay,
        NEO4J_URL: services.neo4jBoltUrl,
        REDIS_URL: services.redisUrl,
        COHERENCE_CHANGED_CHANNEL: `${database.namespace}:coherence.changed`,
      }),
      logger,
    );
    consumer = await createConsumerService(
      readIngestConsumerConfig({
        INGEST_DATABASE_URL: database.urls.ingest,
        INGEST_REGION: 'us',
        KAFKA_BROKERS: services.kafkaBrokers.join(','),
        INGEST_SIGNALS_TOPIC: `${database.namespace}.dashboards.signals`,
        INGEST_SIGNALS_DLQ_TOPIC: `${database.namespace}.dashboards.dlq`,
        INGEST_CONSUMER_GROUP: `${database.namespace}-dashboards`,
        INGEST_TOPIC_PARTITIONS: '1',
      }),
      logger,
    );
    worker = await createWorkerService(
      readCommsWorkerConfig({ COMMS_DATABASE_URL: database.urls.comms, ...unleashClientEnv(services.unleash, 200) }),
      logger,
    );
  });

  afterAll(async () => {
    await worker?.close();
    await consumer?.close();
    await relay?.close();
    await app?.stop();
    await database?.drop();
  });

  it('name only series the processes export or the recording rules record', async () => {
    const scraped = await Promise.all([
      ...Object.values(app.adminUrls).map(async (url) => (await fetch(`${url}/metrics`)).text()),
      ...[relay.admin, consumer.admin, worker.admin].map(async (admin) => (await admin.inject({ method: 'GET', url: '/metrics' })).body),
    ]);
    const exported = new Set(scraped.flatMap(exportedSeries));
    // The scrape reached every kind of process: a series only each one exports.
    for (const only of [
      'subscription_active',
      'ingest_events_processed_total',
      'coherence_read_model_reads_total',
      'relay_graph_write_seconds_bucket',
      'ingest_consumer_lag',
      'comms_open_commands',
    ])
      expect(exported).toContain(only);

    const known = new Set([...exported, ...Object.values(recorded)]);
    const unknown = panelQueries().flatMap(({ dashboard, panel, exprs }) =>
      exprs
        .flatMap(seriesNamesOf)
        .filter((name) => !known.has(name))
        .map((name) => `${dashboard} / ${panel}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });
});
