import { aggregateBySource, computeCoherence, createRelayService, readRelayConfig } from '@coherence/coherence';
import { createWorkerService, isNotifiable, readCommsWorkerConfig } from '@coherence/comms';
import { createReceiver, type Receiver } from '@coherence/comms/testing';
import type { CoherenceChangedMessage, SignalInput } from '@coherence/contracts';
import { createTestDatabase, startRoundRobinProxy, type RoundRobinProxy, type TestDatabase } from '@coherence/devservices';
import { buildExpectedScores, goldenSignals, loadSignals, type LoadProgress } from '@coherence/fixtures';
import { deleteGraphOf } from '@coherence/testkit';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createLogger, createPgPool, type PgPool } from '@coherence/platform';
import { createClient, type Client } from 'graphql-ws';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { createIngestProcesses, waitFor } from './ingestProcesses';
import { startApplication } from './support/startApplication';

/**
 * Two of every process on one database, Redis, Neo4j and Kafka
 * (docs/adr/0019-scale-out.md): two gateways (each over its own coherence,
 * comms and ingest subgraphs), two ingest and two ingest-consumer processes
 * (one Kafka consumer group with two members), two relays and two comms
 * workers. The golden load goes in through one ingest, then through both
 * behind a round-robin proxy (the figures compare the two), then through
 * Kafka; the relays project it side by side. Every signal must be stored,
 * queued and projected once, every tenant's score must be the expected one
 * from either gateway, every status change notified once per contact, and
 * the cache, subscriptions and the limiter must work across both gateways.
 */
const INSTANCES = 2;
const CONTACTS = ['chat', 'pager'];
const PARTITIONS = 4;
/** The share of the limiter's tenant: the gateways' rate (20/s) × weight 0.25, burst 2 s of it. */
const LIMITED_RATE = 5;
const LIMITED_BURST = 2 * LIMITED_RATE;
const operationId = (name: string) => manifest.operations.findLast((op) => op.name === name)!.id;
/** Six golden tenants (60,000 signals): two through one ingest, two through both, two over Kafka. */
const expected = { tenants: buildExpectedScores().tenants.slice(0, 6) };
const SIGNALS = expected.tenants.length * 10_000;
const logger = createLogger('test', 'silent');

let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
let admin: PgPool;
let logDir: string;
let ingests: Awaited<ReturnType<typeof createIngestProcesses>>[] = [];
let ingestProxy: RoundRobinProxy;
let gatewayProxy: RoundRobinProxy;
let kafkaAdmin: Admin;
let producer: Producer;
let relays: Awaited<ReturnType<typeof createRelayService>>[] = [];
let workers: Awaited<ReturnType<typeof createWorkerService>>[] = [];
let receiver: Receiver;
const clients: Client[] = [];
let signals: SignalInput[];
const tenantId = (base: string) => `${database.namespace}-${base}`;

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  admin = createPgPool(database.adminUrl);
  logDir = mkdtempSync(join(tmpdir(), 'coherence-scale-out-'));
  app = await startApplication(services, database, {
    instances: INSTANCES,
    gatewayEnv: {
      GATEWAY_CACHE_ENABLED: 'true',
      // Far beyond the test: only an invalidation can make a gateway serve a newer score.
      GATEWAY_CACHE_TTL_SECONDS: '600',
      GATEWAY_RATE_PER_SECOND: '20',
      GATEWAY_RATE_BURST_SECONDS: '2',
      // A busy test machine must not shrink the shares (createGatewayLimiter.int.ts tests that).
      GATEWAY_SATURATION_IN_FLIGHT: '100000',
      GATEWAY_SATURATION_LOOP_DELAY_MS: '100000',
    },
  });
  gatewayProxy = await startRoundRobinProxy({ targets: app.instances.map((instance) => instance.gatewayUrl) });

  ingests = [];
  for (let instance = 1; instance <= INSTANCES; instance += 1)
    ingests.push(await createIngestProcesses({ services, database, logDir, instance }));
  const kafka = new Kafka({ clientId: 'scale-out-test', brokers: services.kafkaBrokers, logLevel: logLevel.NOTHING });
  kafkaAdmin = kafka.admin();
  producer = kafka.producer();
  await Promise.all([kafkaAdmin.connect(), producer.connect()]);
  // Partitions for both members of the group.
  await kafkaAdmin.createTopics({ waitForLeaders: true, topics: [{ topic: ingests[0]!.topic, numPartitions: PARTITIONS }] });
  await Promise.all(ingests.map((ingest) => ingest.startHttp()));
  await Promise.all(ingests.map((ingest) => ingest.startConsumer()));
  ingestProxy = await startRoundRobinProxy({ targets: ingests.map((ingest) => ingest.httpUrl) });

  const channel = `${database.namespace}:coherence.changed`;
  relays = [];
  for (let i = 0; i < INSTANCES; i += 1) {
    relays.push(
      await createRelayService(
        readRelayConfig({
          RELAY_DATABASE_URL: database.urls.relay,
          NEO4J_URL: services.neo4jBoltUrl,
          REDIS_URL: services.redisUrl,
          COHERENCE_CHANGED_CHANNEL: channel,
          // Small batches, so that both relays take events of the same tenants side by side.
          RELAY_BATCH_SIZE: '5',
        }),
        logger,
      ),
    );
  }
  receiver = await createReceiver(() => ({ status: 200 }));
  workers = [];
  for (let i = 0; i < INSTANCES; i += 1) {
    const worker = await createWorkerService(
      readCommsWorkerConfig({
        COMMS_DATABASE_URL: database.urls.comms,
        REDIS_URL: services.redisUrl,
        COHERENCE_CHANGED_CHANNEL: channel,
        COMMS_SSRF_ALLOW: '127.0.0.1/32',
        COMMS_POLL_MS: '200',
      }),
      logger,
    );
    await worker.start();
    workers.push(worker);
  }
  for (const { tenantId: base } of expected.tenants) {
    await app.registerTenant(tenantId(base));
    for (const contact of CONTACTS)
      await admin.query(`INSERT INTO comms_contacts (tenant_id, contact_id, channel, url) VALUES ($1, $2, 'webhook', $3)`, [
        tenantId(base),
        contact,
        receiver.url(`/${contact}`),
      ]);
  }
}, 240_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.dispose()));
  for (const worker of workers) await worker.close();
  for (const relay of relays) await relay.close();
  await ingestProxy?.close();
  await gatewayProxy?.close();
  await Promise.all(ingests.map((ingest) => ingest.stopAll()));
  await producer?.disconnect();
  await kafkaAdmin?.disconnect();
  await receiver?.close();
  // The graph outlives the database: this file's nodes go while the application's driver is open.
  if (app) await deleteGraphOf(app.driver, `${database.namespace}-`);
  await app?.stop();
  await admin?.end();
  await database?.drop();
  if (logDir) rmSync(logDir, { recursive: true, force: true });
}, 300_000);

/** A counter's value in a Prometheus text exposition (0 when absent). */
function counter(metrics: string, name: string, labels = ''): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await admin.query<{ n: number }>(sql, params);
  return rows[0]!.n;
}

const ledgerCount = () => count('SELECT count(*)::int AS n FROM signal_ledger WHERE tenant_id LIKE $1', [`${database.namespace}-%`]);

interface GatewayAnswer {
  status: number;
  cache: string | null;
  data?: Record<string, unknown>;
  errors?: unknown[];
}

async function readCoherence(gatewayUrl: string, tenant: string, headers: Record<string, string>): Promise<GatewayAnswer> {
  const response = await fetch(`${gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({
      extensions: { persistedQuery: { version: 1, sha256Hash: operationId('TenantCoherence') } },
      variables: { tenantId: tenant },
    }),
  });
  const body = (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
  return { status: response.status, cache: response.headers.get('x-cache'), ...body };
}

const perSecond = (progress: LoadProgress) => Math.round((progress.total / progress.elapsedMs) * 1_000);

describe('two instances of every process', () => {
  const figures: Record<string, number> = {};
  afterAll(() => process.stderr.write(`[scaleOut] ${JSON.stringify(figures)}\n`));

  it('stores, queues and projects every golden signal exactly once, through both ingests, both consumers and both relays', async () => {
    const tenants = expected.tenants.map((t) => tenantId(t.tenantId));
    signals = goldenSignals(new Date(), { tenantPrefix: `${database.namespace}-` }).filter((signal) => tenants.includes(signal.tenantId));
    const of = (group: string[]) => signals.filter((signal) => group.includes(signal.tenantId));
    const headersFor = async (tenant: string) => ({ authorization: `Bearer ${await ingests[0]!.token(tenant)}` });
    // The same amount each way, the same client concurrency: first one ingest, then both behind the proxy.
    const throughOne = await loadSignals({ ingestUrl: ingests[0]!.httpUrl, signals: of(tenants.slice(0, 2)), headersFor, concurrency: 8 });
    const throughTwo = await loadSignals({ ingestUrl: ingestProxy.url, signals: of(tenants.slice(2, 4)), headersFor, concurrency: 8 });
    for (const progress of [throughOne, throughTwo]) expect(progress).toMatchObject({ total: 20_000, accepted: 20_000, deduped: 0 });
    figures['httpOneIngestSignalsPerSecond'] = perSecond(throughOne);
    figures['httpTwoIngestsSignalsPerSecond'] = perSecond(throughTwo);

    const overKafka = of(tenants.slice(4));
    const kafkaStartedAt = Date.now();
    for (let i = 0; i < overKafka.length; i += 1_000) {
      await producer.send({
        topic: ingests[0]!.topic,
        acks: -1,
        // Spread over every partition, so that both members of the group get records whichever partitions each was assigned
        // (by key, two tenants could land on one member's); the score does not depend on the order signals are stored in.
        messages: overKafka
          .slice(i, i + 1_000)
          .map((signal, j) => ({ key: signal.tenantId, value: JSON.stringify(signal), partition: (i + j) % PARTITIONS })),
      });
    }
    await waitFor('the consumers to store every record', async () => (await ledgerCount()) === signals.length, 120_000);
    figures['kafkaTwoConsumersSignalsPerSecond'] = Math.round((overKafka.length / (Date.now() - kafkaStartedAt)) * 1_000);

    // Both relays start on the whole backlog at once: they claim events of the same tenants side by side.
    const relayStartedAt = Date.now();
    for (const { relay } of relays) relay.start();
    await waitFor(
      'the relays to project every event',
      async () => (await count('SELECT count(*)::int AS n FROM outbox WHERE processed_at IS NULL')) === 0,
      180_000,
      500,
    );
    figures['twoRelaysSignalsPerSecond'] = Math.round((signals.length / (Date.now() - relayStartedAt)) * 1_000);

    expect(await ledgerCount()).toBe(SIGNALS);
    // Each signal in exactly one outbox event, none quarantined, each once in the graph.
    const { rows } = await admin.query<{ signals: number; distinct: number }>(
      `SELECT count(*)::int AS signals,
              count(DISTINCT (s->>'tenantId', s->>'source', s->>'signalId', s->>'ts'))::int AS distinct
         FROM outbox o, jsonb_array_elements(o.envelope #> '{payload,signals}') s WHERE o.tenant_id LIKE $1`,
      [`${database.namespace}-%`],
    );
    expect(rows[0]).toEqual({ signals: SIGNALS, distinct: SIGNALS });
    expect(await count('SELECT count(*)::int AS n FROM outbox_quarantine')).toBe(0);
    const { records } = await app.driver.executeQuery('MATCH (s:Signal) WHERE s.tenantId STARTS WITH $prefix RETURN count(s) AS n', {
      prefix: `${database.namespace}-`,
    });
    expect(records[0]!.get('n')).toBe(SIGNALS);

    // Every instance did its share of the work.
    for (const ingest of ingests) {
      const http = await (await fetch(`${ingest.httpAdminUrl}/metrics`)).text();
      const kafka = await (await fetch(`${ingest.consumerAdminUrl}/metrics`)).text();
      expect(counter(http, 'ingest_events_processed_total', '{transport="http"}')).toBeGreaterThan(0);
      expect(counter(kafka, 'ingest_events_processed_total', '{transport="kafka"}')).toBeGreaterThan(0);
    }
    for (const relay of relays) {
      const metrics = (await relay.admin.inject({ method: 'GET', url: '/metrics' })).body;
      expect(counter(metrics, 'relay_signals_total')).toBeGreaterThan(0);
    }
  }, 600_000);

  it.each(expected.tenants.map((t, i) => [t.tenantId, i % INSTANCES, t] as const))(
    '%s: gateway %i serves the expected score',
    async (base, instance, tenant) => {
      const answer = await readCoherence(app.instances[instance]!.gatewayUrl, tenantId(base), await app.readHeaders(tenantId(base)));
      expect(answer.errors).toBeUndefined();
      expect(answer.data!['tenantCoherence']).toMatchObject({
        tenantId: tenantId(base),
        score: tenant.score,
        status: tenant.status,
        agreement: tenant.agreement,
        sources: tenant.sources,
      });
    },
  );

  it('records each tenant’s changes one after another, and notifies every status change once per contact', async () => {
    const { rows } = await admin.query<{ tenant_id: string; message: CoherenceChangedMessage }>(
      'SELECT tenant_id, message FROM coherence_score_history WHERE tenant_id LIKE $1 ORDER BY tenant_id, id',
      [`${database.namespace}-%`],
    );
    // With relays side by side, each change starts where the tenant's previous one ended (relaysSideBySide.int.ts).
    for (const [i, { tenant_id, message }] of rows.entries()) {
      const before = rows[i - 1]?.tenant_id === tenant_id ? rows[i - 1]!.message.payload.current : undefined;
      expect(message.payload.previous).toEqual(before ? { score: before.score, status: before.status } : null);
    }
    const notifiable = rows.filter((row) => isNotifiable(row.message));
    expect(notifiable.length).toBeGreaterThan(0);
    const expectedDeliveries = notifiable.flatMap(({ message }) => CONTACTS.map((contact) => `${message.messageId} ${contact}`)).sort();

    await waitFor(
      'every notification to be delivered',
      async () =>
        receiver.received.length >= expectedDeliveries.length &&
        (await count(`SELECT count(*)::int AS n FROM dispatch_commands WHERE state <> 'succeeded'`)) === 0,
      60_000,
    );
    const delivered = receiver.received.map((request) => {
      const body = JSON.parse(request.body) as { messageId: string };
      return `${body.messageId} ${request.path.slice(1)}`;
    });
    expect(delivered.sort()).toEqual(expectedDeliveries);
  }, 90_000);

  it('invalidates the shared cache and feeds subscriptions from either gateway when a score changes', async () => {
    const tenant = tenantId(expected.tenants[0]!.tenantId);
    const headers = await app.readHeaders(tenant);
    const [first, second] = app.instances.map((instance) => instance.gatewayUrl) as [string, string];
    // Both gateways have answered (and may have cached) the score before it changes; a TTL of 600 s leaves only invalidation.
    for (const gatewayUrl of [first, second]) expect(await readCoherence(gatewayUrl, tenant, headers)).toMatchObject({ status: 200 });

    // A subscriber on each gateway, and one through the proxy (a WebSocket upgrade it passes on).
    const token = headers['authorization']!.replace('Bearer ', '');
    const heard = [first, second, gatewayProxy.url].map((url) => {
      const client = createClient({
        url: `${url.replace('http', 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${token}` },
        retryAttempts: 0,
      });
      clients.push(client);
      const scores: (number | null)[] = [];
      void (async () => {
        const events = client.iterate<{ coherenceEvents: { score: number | null } }>({
          query: '',
          extensions: { persistedQuery: { version: 1, sha256Hash: operationId('CoherenceEvents') } },
          variables: { tenantId: tenant },
        });
        for await (const event of events) scores.push(event.data!.coherenceEvents.score);
      })();
      return scores;
    });
    const subscribers = async () => {
      let total = 0;
      for (const instance of app.instances)
        total += counter((await instance.gateway.admin.inject({ method: 'GET', url: '/metrics' })).body, 'subscription_active');
      return total;
    };
    await waitFor('three subscriptions', async () => (await subscribers()) === 3, 20_000);

    // Heavy signals at 0 pull the tenant down to CRITICAL.
    const at = new Date(Date.now() - 60_000).toISOString();
    const added = Array.from({ length: 10 }, (_, i) => ({
      tenantId: tenant,
      source: 'scale-out',
      signalId: `drop-${i}`,
      ts: at,
      type: 'health',
      value: 0,
      weight: 1e6,
    }));
    const pushed = await fetch(`${ingestProxy.url}/v1/signals`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await ingests[1]!.token(tenant)}` },
      body: JSON.stringify({ signals: added }),
    });
    expect(pushed.status).toBe(202);
    const own = signals.filter((s) => s.tenantId === tenant);
    const after = computeCoherence(aggregateBySource([...own, ...added].map((s) => ({ ...s, weight: s.weight ?? 1 }))));
    expect(after.status).toBe('CRITICAL');

    await waitFor('every subscriber to hear the new score', async () => heard.every((scores) => scores.includes(after.score)), 30_000);
    for (const gatewayUrl of [second, first]) {
      await waitFor(
        `${gatewayUrl} to serve the new score`,
        async () => {
          const answer = await readCoherence(gatewayUrl, tenant, headers);
          return (answer.data?.['tenantCoherence'] as { score?: number } | undefined)?.score === after.score;
        },
        30_000,
        250,
      );
    }
  }, 90_000);

  it('holds a tenant to its one share across both gateways', async () => {
    const tenant = tenantId('limited');
    await app.registerTenant(tenant);
    await admin.query('UPDATE tenants SET weight = $2 WHERE tenant_id = $1', [tenant, LIMITED_RATE / 20]);
    const headers = await app.readHeaders(tenant);
    const startedAt = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 6 * LIMITED_BURST }, (_, i) => readCoherence(app.instances[i % INSTANCES]!.gatewayUrl, tenant, headers)),
    );
    expect(answers.every((answer) => answer.status === 200 || answer.status === 429)).toBe(true);
    const admitted = answers.filter((answer) => answer.status === 200).length;
    // Gateways with a limiter each would admit a burst each: twice this.
    expect(admitted).toBeGreaterThanOrEqual(LIMITED_BURST);
    expect(admitted).toBeLessThanOrEqual(LIMITED_BURST + Math.ceil((LIMITED_RATE * (Date.now() - startedAt)) / 1_000) + 1);
    for (const instance of app.instances) {
      const metrics = (await instance.gateway.admin.inject({ method: 'GET', url: '/metrics' })).body;
      expect(counter(metrics, 'gateway_ratelimit_decisions_total', '{outcome="limited"}')).toBeGreaterThan(0);
    }
  });
});
