import { createRelayService, readRelayConfig } from '@coherence/coherence';
import { createWorkerService, readCommsWorkerConfig } from '@coherence/comms';
import { createTestDatabase, freePort, type TestDatabase } from '@coherence/devservices';
import { startPrometheus, type RunningPrometheus } from '@coherence/devservices/prometheus';
import { createConsumerService, readIngestConsumerConfig } from '@coherence/ingest';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createLogger } from '@coherence/platform';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readMetricVocabulary, writeRulesWithoutHoldTimes } from './support/observability';
import { startApplication } from './support/startApplication';

/**
 * The running application as Prometheus sees it (docs/adr/0021-prometheus-rules-and-slos.md):
 * every process's admin listener scraped by a real Prometheus (Debian's, from
 * the dev services kit) with the rules of grafana/rules/ loaded; what the
 * processes export checked against the metric vocabulary (grafana/metrics.json);
 * and the outbox-lag alert going to firing once the relay stops.
 */
const workDir = mkdtempSync(join(tmpdir(), 'coherence-prometheus-'));
const logger = createLogger('test', 'silent');
const vocabulary = readMetricVocabulary();
let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
let relay: Awaited<ReturnType<typeof createRelayService>> | undefined;
let consumer: Awaited<ReturnType<typeof createConsumerService>>;
let worker: Awaited<ReturnType<typeof createWorkerService>>;
let prometheus: RunningPrometheus;
/** Each process's admin listener, by its `service` label. */
let adminUrls: Record<string, string>;

const listen = async (admin: { listen(options: { port: number; host: string }): Promise<unknown>; server: { address(): unknown } }) => {
  await admin.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(admin.server.address() as AddressInfo).port}`;
};

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  app = await startApplication(services, database);
  relay = await createRelayService(
    readRelayConfig({
      RELAY_DATABASE_URL: database.urls.relay,
      NEO4J_URL: services.neo4jBoltUrl,
      REDIS_URL: services.redisUrl,
      COHERENCE_CHANGED_CHANNEL: `${database.namespace}:coherence.changed`,
      RELAY_IDLE_POLL_MS: '100',
    }),
    logger,
  );
  consumer = await createConsumerService(
    readIngestConsumerConfig({
      INGEST_DATABASE_URL: database.urls.ingest,
      INGEST_REGION: 'us',
      KAFKA_BROKERS: services.kafkaBrokers.join(','),
      INGEST_SIGNALS_TOPIC: `${database.namespace}.signals`,
      INGEST_SIGNALS_DLQ_TOPIC: `${database.namespace}.dlq`,
      INGEST_CONSUMER_GROUP: `${database.namespace}-ingest`,
      INGEST_TOPIC_PARTITIONS: '1',
    }),
    logger,
  );
  worker = await createWorkerService(
    readCommsWorkerConfig({ COMMS_DATABASE_URL: database.urls.comms, REDIS_URL: services.redisUrl }),
    logger,
  );
  adminUrls = {
    ...app.adminUrls,
    relay: await listen(relay.admin),
    'ingest-consumer': await listen(consumer.admin),
    'comms-worker': await listen(worker.admin),
  };
  relay.relay.start();
  prometheus = await startPrometheus({
    port: await freePort(),
    dataDir: join(workDir, 'prometheus'),
    logFile: join(workDir, 'prometheus.log'),
    // One job per process, `service` as a target label, as in the stack and the Helm chart.
    scrapeTargets: Object.entries(adminUrls).map(([service, url]) => ({ job: service, address: new URL(url).host, labels: { service } })),
    ruleFiles: writeRulesWithoutHoldTimes(workDir),
    externalLabels: { region: 'us' },
    scrapeIntervalSeconds: 1,
  });
});

afterAll(async () => {
  await prometheus?.stop();
  await relay?.close();
  await consumer?.close();
  await worker?.close();
  await app?.stop();
  await database?.drop();
  rmSync(workDir, { recursive: true, force: true });
});

async function query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const response = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await response.json()) as {
    status: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  expect(body.status).toBe('success');
  return body.data.result;
}

async function alertStates(name: string): Promise<string[]> {
  const body = (await (await fetch(`${prometheus.url}/api/v1/alerts`)).json()) as {
    data: { alerts: { labels: Record<string, string>; state: string }[] };
  };
  return body.data.alerts.filter((alert) => alert.labels['alertname'] === name).map((alert) => alert.state);
}

/** Polls `probe` until it returns true or `timeoutMs` passes; returns the last answer. */
async function eventually(probe: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > giveUpAt) return false;
    await sleep(500);
  }
}

async function pushSignal(tenantId: string, signalId: string): Promise<void> {
  const response = await fetch(`${app.ingestUrl}/v1/signals`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(await app.writeHeaders(tenantId)) },
    body: JSON.stringify({
      signals: [{ tenantId, source: 'prometheus-e2e', signalId, ts: new Date().toISOString(), type: 'latency', value: 0.9 }],
    }),
  });
  expect(response.status).toBe(202);
}

/** Per metric name (`# TYPE` lines), its type and the label names its samples carry. */
function exported(text: string): Map<string, { type: string; labels: Set<string> }> {
  const metrics = new Map<string, { type: string; labels: Set<string> }>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) metrics.set(name!, { type: type!, labels: new Set() });
  for (const [, series, labels] of text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^\n]*)\} \S+$/gm)) {
    const name = [...metrics.keys()].find(
      (candidate) =>
        series === candidate || (series!.startsWith(candidate) && /^_(bucket|sum|count)$/.test(series!.slice(candidate.length))),
    );
    for (const [, label] of labels!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g))
      metrics.get(name ?? series!)?.labels.add(label!);
  }
  return metrics;
}

describe('Prometheus scraping the running application', () => {
  it('scrapes every process of the vocabulary, each under its service label', async () => {
    expect(Object.keys(adminUrls).sort()).toEqual([...vocabulary.services].sort());
    expect(await eventually(async () => (await query('up == 1')).length === vocabulary.services.length, 30_000), 'every target up').toBe(
      true,
    );
    expect((await query('up')).map((series) => series.metric['service']).sort()).toEqual([...vocabulary.services].sort());
  });

  it('finds exactly the metrics of grafana/metrics.json on every process, with their types and labels', async () => {
    // Some traffic first, so that labelled series exist to show their labels.
    const tenantId = `${database.namespace}-drift`;
    await pushSignal(tenantId, 'drift-1');
    const tenantCoherence = manifest.operations.findLast((operation) => operation.name === 'TenantCoherence')!;
    const read = await fetch(`${app.gatewayUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await app.readHeaders(tenantId)) },
      body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: tenantCoherence.id } }, variables: { tenantId } }),
    });
    expect(read.status).toBe(200);

    const problems: string[] = [];
    for (const [service, url] of Object.entries(adminUrls)) {
      const metrics = exported(await (await fetch(`${url}/metrics`)).text());
      const documented = vocabulary.metrics.filter((metric) => metric.services.includes(service));
      for (const metric of documented) {
        const found = metrics.get(metric.name);
        if (!found) problems.push(`${service}: ${metric.name} is documented but not exported`);
        else if (found.type !== metric.type) problems.push(`${service}: ${metric.name} is a ${found.type}, documented as a ${metric.type}`);
        else {
          const extra = [...found.labels].filter((label) => label !== 'le' && !metric.labels.includes(label));
          if (extra.length > 0) problems.push(`${service}: ${metric.name} has undocumented labels ${extra.join(', ')}`);
        }
      }
      for (const name of metrics.keys()) {
        if (!documented.some((metric) => metric.name === name)) problems.push(`${service}: ${name} is exported but not documented`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('fires OutboxLagHigh once the relay is stopped and an accepted signal waits for it', async () => {
    const tenantId = `${database.namespace}-lag`;
    // The relay is running: what is pushed is projected and nothing fires.
    await pushSignal(tenantId, 'before-stop');
    expect(await eventually(async () => Number((await query('outbox:lag_seconds:max'))[0]?.value[1]) === 0, 30_000)).toBe(true);
    expect(await alertStates('OutboxLagHigh')).toEqual([]);

    await relay!.close();
    relay = undefined;
    await pushSignal(tenantId, 'after-stop');
    // The relay's own gauge is gone with it; ingest's keeps growing past the 30 s threshold.
    expect(await eventually(async () => (await alertStates('OutboxLagHigh')).includes('firing'), 120_000)).toBe(true);
    expect((await query('up{service="relay"}'))[0]?.value[1]).toBe('0');
    expect(Number((await query('outbox:lag_seconds:max'))[0]?.value[1])).toBeGreaterThan(30);
  }, 180_000);
});
