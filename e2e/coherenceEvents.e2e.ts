import { createChangePublisher, createOutboxRelay, type OutboxRelay } from '@coherence/coherence';
import { COHERENCE_CHANGED, type CoherenceChangedMessage } from '@coherence/contracts';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createLogger, createPgPool, type PgPool } from '@coherence/platform';
import { coherenceChangedFor } from '@coherence/testkit';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { startApplication } from './support/startApplication';
import { createClient, type Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { startFanoutEndpoint } from '../scripts/bench/fanoutEndpoint';

/**
 * `coherenceEvents` end to end: signals pushed to ingest, projected by a
 * relay that publishes `CoherenceChanged` on Redis, delivered over graphql-ws
 * by the gateway's subscription endpoint — only on a change, coalesced per
 * tenant, persisted operations only, tenant-checked.
 */
const subscriptionId = manifest.operations.findLast((op) => op.name === 'CoherenceEvents')!.id;

let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
let endpoint: Awaited<ReturnType<typeof startFanoutEndpoint>>;
let relay: OutboxRelay;
let relayPool: PgPool;
let publisher: Redis;
let listener: Redis;
let channel: string;
const published: CoherenceChangedMessage[] = [];
const clients: Client[] = [];

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  channel = `${database.namespace}:coherence.changed.v1`;
  app = await startApplication(services, database, { gatewayEnv: { COHERENCE_CHANGED_CHANNEL: channel } });
  const logger = createLogger('test', 'silent');
  publisher = new Redis(services.redisUrl);
  listener = new Redis(services.redisUrl);
  listener.on('message', (_channel, text: string) => published.push(JSON.parse(text) as CoherenceChangedMessage));
  await listener.subscribe(channel);
  relayPool = createPgPool(database.urls.relay);
  relay = createOutboxRelay({
    pool: relayPool,
    driver: app.driver,
    logger,
    windowHours: 24,
    publishChanged: createChangePublisher(publisher, channel),
  });
  endpoint = await startFanoutEndpoint({ redisUrl: services.redisUrl, channel, jwksPath: app.jwksPath, logger });
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.dispose()));
  await endpoint?.close();
  publisher?.disconnect();
  listener?.disconnect();
  await relayPool?.end();
  await app?.stop();
  await database?.drop();
});

async function connect(token: string | undefined, url = endpoint.wsUrl): Promise<Client> {
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: true,
  });
  clients.push(client);
  return client;
}

function subscribe(client: Client, tenantId: string, payload: { query?: string; id?: string } = {}) {
  return client.iterate<{ coherenceEvents: { tenantId: string; score: number | null; status: string } }>({
    query: payload.query ?? '',
    extensions: { persistedQuery: { version: 1, sha256Hash: payload.id ?? subscriptionId } },
    variables: { tenantId },
  });
}

const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

async function push(tenantId: string, signals: { signalId: string; value: number }[]) {
  const response = await fetch(`${app.ingestUrl}/v1/signals`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(await app.writeHeaders(tenantId)) },
    body: JSON.stringify({
      signals: signals.map((s, i) => ({
        tenantId,
        source: 'api',
        signalId: s.signalId,
        ts: minutesAgo(i + 1),
        type: 'health',
        value: s.value,
      })),
    }),
  });
  expect(response.status).toBe(202);
}

async function readToken(tenantId: string) {
  return app.mintToken({ tenant: tenantId, scopes: ['coherence:read:self'] });
}

describe('coherenceEvents', () => {
  const tenant = () => `${database.namespace}-acme`;

  it('delivers the new score to a subscriber after a push, and publishes nothing when a recompute changes nothing', async () => {
    const events = subscribe(await connect(await readToken(tenant())), tenant());
    const first = events.next();
    // Give the subscription time to reach the endpoint before the change is published.
    await sleep(300);
    await push(tenant(), [
      { signalId: 'a', value: 0.9 },
      { signalId: 'b', value: 0.7 },
    ]);
    await relay.drainAll();
    const received = await first;
    expect(received.value).toEqual({
      data: { coherenceEvents: expect.objectContaining({ tenantId: tenant(), score: 0.8, status: 'HEALTHY' }) },
    });
    await sleep(200);
    expect(published.filter((m) => m.tenantId === tenant())).toHaveLength(1);

    // Re-delivered outbox events recompute the same score: no CoherenceChanged.
    const admin = createPgPool(database.adminUrl);
    try {
      await admin.query('UPDATE outbox SET processed_at = NULL WHERE tenant_id = $1', [tenant()]);
    } finally {
      await admin.end();
    }
    expect(await relay.drainAll()).toBe(1);
    await sleep(300);
    expect(published.filter((m) => m.tenantId === tenant())).toHaveLength(1);
    expect(published[0]).toMatchObject({ type: COHERENCE_CHANGED, payload: { previous: null, current: { score: 0.8 } } });
    await events.return?.();
  });

  it('coalesces a burst of changes of one tenant into one event carrying the latest score', async () => {
    const tenantId = `${database.namespace}-burst`;
    const events = subscribe(await connect(await readToken(tenantId)), tenantId);
    const received: (number | null)[] = [];
    const reading = (async () => {
      for await (const event of events) received.push(event.data!.coherenceEvents.score);
    })();
    await sleep(300);
    for (const score of [0.1, 0.2, 0.3, 0.4, 0.5])
      await publisher.publish(channel, JSON.stringify(coherenceChangedFor({ tenantId, score, correlationId: 'burst' })));
    await sleep(400);
    await events.return?.();
    await reading;
    expect(received).toEqual([0.5]);
  });

  it('refuses connections without a valid token', async () => {
    const events = subscribe(await connect(undefined), tenant());
    await expect(events.next()).rejects.toMatchObject({ code: 4403 });
  });

  it.each([
    ['query text', { query: 'subscription { coherenceEvents(tenantId: "x") { score } }' }, 'PERSISTED_QUERY_REQUIRED'],
    ['an unknown id', { id: 'f'.repeat(64) }, 'PERSISTED_QUERY_NOT_FOUND'],
    ['a query sent as a subscription', { id: manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id }, 'BAD_USER_INPUT'],
  ])('refuses %s with %s', async (_name, payload, code) => {
    const events = subscribe(await connect(await readToken(tenant())), tenant(), payload);
    await expect(events.next()).rejects.toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code }) })]);
  });

  it('refuses another tenant’s events to a self-scoped token', async () => {
    const events = subscribe(await connect(await readToken(tenant())), `${database.namespace}-globex`);
    await expect(events.next()).rejects.toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'FORBIDDEN', reasonCode: 'TENANT_MISMATCH' }) }),
    ]);
  });

  it('is served by the gateway itself, behind its policy', async () => {
    const tenantId = `${database.namespace}-gated`;
    await app.registerTenant(tenantId);
    const gatewayWs = `${app.gatewayUrl.replace('http', 'ws')}/graphql`;
    const client = await connect(await readToken(tenantId), gatewayWs);
    const events = subscribe(client, tenantId);
    const first = events.next();
    await sleep(300);
    await push(tenantId, [{ signalId: 'g', value: 0.3 }]);
    await relay.drainAll();
    expect((await first).value).toEqual({
      data: { coherenceEvents: expect.objectContaining({ tenantId, score: 0.3, status: 'CRITICAL' }) },
    });
    await events.return?.();

    const other = subscribe(client, `${database.namespace}-acme`);
    await expect(other.next()).rejects.toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })]);
  });

  it('records a connection the gateway refuses as an AUTH_DENY security event', async () => {
    const gatewayWs = `${app.gatewayUrl.replace('http', 'ws')}/graphql`;
    const events = subscribe(await connect(undefined, gatewayWs), tenant());
    await expect(events.next()).rejects.toMatchObject({ code: 4403 });
    await app.gateway.flushSecurityEvents();
    const admin = createPgPool(database.adminUrl);
    try {
      const { rows } = await admin.query<{ reason: string; tenant_id: string }>(
        `SELECT reason, tenant_id FROM security_events WHERE kind = 'AUTH_DENY' AND service = 'gateway'`,
      );
      expect(rows).toEqual([{ reason: 'TOKEN_MISSING', tenant_id: '-' }]);
    } finally {
      await admin.end();
    }
  });

  it('publishes a change whose publish failed on the next sweep, and only the newest change of a tenant', async () => {
    const tenantId = `${database.namespace}-late`;
    const failing = createOutboxRelay({
      pool: relayPool,
      driver: app.driver,
      logger: createLogger('test', 'silent'),
      windowHours: 24,
      publishChanged: () => Promise.reject(new Error('redis is down')),
    });
    // Two changes committed, neither published: what a relay dying between COMMIT and publish leaves behind.
    await push(tenantId, [{ signalId: 'l1', value: 0.2 }]);
    await failing.drainAll();
    await push(tenantId, [{ signalId: 'l2', value: 0.6 }]);
    await failing.drainAll();
    const pending = () =>
      relayPool.query<{ score: number; published: boolean }>(
        'SELECT score, published_at IS NOT NULL AS published FROM coherence_score_history WHERE tenant_id = $1 ORDER BY id',
        [tenantId],
      );
    expect((await pending()).rows).toEqual([
      { score: 0.2, published: false },
      { score: 0.4, published: false },
    ]);
    expect(published.filter((m) => m.tenantId === tenantId)).toEqual([]);

    // Younger than the sweep's minimum age: left to the relay that committed it.
    expect(await relay.publishPending(60_000)).toEqual({ published: 0, superseded: 0 });
    expect(await relay.publishPending(0)).toEqual({ published: 1, superseded: 1 });
    await sleep(200);
    expect(published.filter((m) => m.tenantId === tenantId).map((m) => m.payload.current.score)).toEqual([0.4]);
    expect((await pending()).rows.every((row) => row.published)).toBe(true);
    expect(await relay.publishPending(0)).toEqual({ published: 0, superseded: 0 });
  });

  it('measures fan-out latency from commit to send', async () => {
    const text = await (await fetch(endpoint.metricsUrl)).text();
    const count = Number(/^subscription_fanout_latency_seconds_count (\d+)/m.exec(text)?.[1]);
    expect(count).toBeGreaterThanOrEqual(2);
  });
});
