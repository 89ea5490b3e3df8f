import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { coherenceChangedFor } from '@coherence/testkit';
import { createTestDatabase, freePort, type TestDatabase } from '@coherence/devservices';
import { startApplication } from './support/startApplication';
import { spawnManaged, waitUntilHealthy, type ManagedProcess } from '@coherence/devservices/managedProcess';
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPgPool, type PgPool } from '@coherence/platform';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * The gateway's tenantCoherence cache over the real stack: hits and misses,
 * TTL per tenant, single flight, invalidation by CoherenceChanged, only after
 * the policy, and serving on while its Redis is stopped or paused.
 */
const tenantCoherenceId = manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id;
const workDir = mkdtempSync(join(tmpdir(), 'coherence-gateway-cache-'));
let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
let admin: PgPool;
let redis: Redis;
let channel: string;

const tenant = (name: string) => `${database.namespace}-${name}`;

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  channel = `${database.namespace}:coherence.changed`;
  app = await startApplication(services, database, { gatewayEnv: { GATEWAY_CACHE_ENABLED: 'true', COHERENCE_CHANGED_CHANNEL: channel } });
  // createPgPool handles an idle client's error: one ended just before the database is dropped may still hear its FATAL.
  admin = createPgPool(database.adminUrl);
  redis = new Redis(services.redisUrl);
});

afterAll(async () => {
  await app?.stop();
  await admin?.end();
  redis?.disconnect();
  await database?.drop();
  rmSync(workDir, { recursive: true, force: true });
});

/** Writes the read-model row the coherence subgraph serves (as the relay would). */
async function setScore(tenantId: string, score: number): Promise<string> {
  const { rows } = await admin.query<{ updated_at: string }>(
    `INSERT INTO coherence_scores (tenant_id, score, status, agreement, window_iso, sources, as_of)
     VALUES ($1, $2, 'HEALTHY', 1, 'PT24H', $3, now())
     ON CONFLICT (tenant_id) DO UPDATE SET score = $2, sources = $3, as_of = now(), updated_at = now()
     RETURNING to_json(updated_at) #>> '{}' AS updated_at`,
    [tenantId, score, JSON.stringify([{ source: 'api', score, count: 10 }])],
  );
  return rows[0]!.updated_at;
}

/** Publishes the CoherenceChanged the relay would after that write. */
async function publishChange(tenantId: string, score: number, updatedAt: string) {
  await redis.publish(channel, JSON.stringify(coherenceChangedFor({ tenantId, score, status: 'HEALTHY', updatedAt })));
}

interface Read {
  status: number;
  cache: string | null;
  score: unknown;
  body: { data?: { tenantCoherence: { score: number | null } }; errors?: { extensions: { code: string } }[] };
}

async function read(
  tenantId: string,
  headers: Record<string, string>,
  gatewayUrl = app.gatewayUrl,
  extraVariables: Record<string, unknown> = {},
): Promise<Read> {
  const response = await fetch(`${gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({
      extensions: { persistedQuery: { version: 1, sha256Hash: tenantCoherenceId } },
      variables: { tenantId, ...extraVariables },
    }),
  });
  const body = (await response.json()) as Read['body'];
  return { status: response.status, cache: response.headers.get('x-cache'), score: body.data?.tenantCoherence.score, body };
}

async function metricsText(gatewayAdminUrl = app.adminUrls.gateway): Promise<string> {
  return (await fetch(`${gatewayAdminUrl}/metrics`)).text();
}

const metricValue = (text: string, series: string) =>
  Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

describe('tenantCoherence cache', () => {
  it('answers the second read from the cache, the same body, and counts both', async () => {
    const tenantId = tenant('acme');
    const headers = await app.readHeaders(tenantId);
    await setScore(tenantId, 0.81);
    const first = await read(tenantId, headers);
    const second = await read(tenantId, headers);
    expect(first).toMatchObject({ status: 200, cache: 'MISS', score: 0.81 });
    expect(second).toMatchObject({ status: 200, cache: 'HIT' });
    expect(second.body).toEqual(first.body);
    const metrics = await metricsText();
    expect(metricValue(metrics, 'gateway_cache_requests_total{operation="TenantCoherence",outcome="hit"}')).toBeGreaterThanOrEqual(1);
    expect(metricValue(metrics, 'gateway_cache_requests_total{operation="TenantCoherence",outcome="miss"}')).toBeGreaterThanOrEqual(1);
    expect(metricValue(metrics, 'gateway_cache_hit_ratio{operation="TenantCoherence"}')).toBeGreaterThan(0);
  });

  it('serves the old score until CoherenceChanged arrives, then the new one', async () => {
    const tenantId = tenant('globex');
    const headers = await app.readHeaders(tenantId);
    await setScore(tenantId, 0.9);
    expect(await read(tenantId, headers)).toMatchObject({ cache: 'MISS', score: 0.9 });
    const updatedAt = await setScore(tenantId, 0.4);
    expect(await read(tenantId, headers)).toMatchObject({ cache: 'HIT', score: 0.9 });
    await publishChange(tenantId, 0.4, updatedAt);
    let latest: Read | undefined;
    for (let attempt = 0; attempt < 50; attempt += 1) {
      latest = await read(tenantId, headers);
      if (latest.score === 0.4) break;
      await sleep(50);
    }
    expect(latest).toMatchObject({ status: 200, cache: 'MISS', score: 0.4 });
    expect(await read(tenantId, headers)).toMatchObject({ cache: 'HIT', score: 0.4 });
  });

  it('does not store an answer older than the newest change heard (a lagging replica), and serves it anyway', async () => {
    const tenantId = tenant('lagging');
    const headers = await app.readHeaders(tenantId);
    await setScore(tenantId, 0.5);
    // The change the relay announces is newer than what a lagging replica still serves.
    await publishChange(tenantId, 0.6, new Date(Date.now() + 60_000).toISOString());
    await sleep(200);
    expect(await read(tenantId, headers)).toMatchObject({ status: 200, cache: 'MISS', score: 0.5 });
    expect(await read(tenantId, headers)).toMatchObject({ status: 200, cache: 'MISS', score: 0.5 });
  });

  it('keys entries by declared variables only: an extra variable reads the same entry', async () => {
    const tenantId = tenant('extra');
    const headers = await app.readHeaders(tenantId);
    await setScore(tenantId, 0.66);
    expect(await read(tenantId, headers)).toMatchObject({ cache: 'MISS', score: 0.66 });
    expect(await read(tenantId, headers, app.gatewayUrl, { noise: Math.random() })).toMatchObject({ cache: 'HIT', score: 0.66 });
  });

  it('never hands a cached answer to a request the policy refuses', async () => {
    const owner = tenant('initech');
    const ownerHeaders = await app.readHeaders(owner);
    await setScore(owner, 0.77);
    await read(owner, ownerHeaders);
    expect(await read(owner, ownerHeaders)).toMatchObject({ cache: 'HIT', score: 0.77 });

    const otherTenant = await app.readHeaders(tenant('umbrella'));
    const noScope = { authorization: `Bearer ${await app.mintToken({ tenant: owner, scopes: ['coherence:write:self'] })}` };
    for (const [headers, status, code] of [
      [otherTenant, 403, 'FORBIDDEN'],
      [noScope, 403, 'FORBIDDEN'],
      [{}, 401, 'UNAUTHENTICATED'],
    ] as const) {
      const refused = await read(owner, headers);
      expect(refused).toMatchObject({ status, cache: null, score: undefined });
      expect(refused.body.errors?.[0]?.extensions.code).toBe(code);
    }
  });

  it("keeps an entry for the tenant's own TTL when its row sets one", async () => {
    const tenantId = tenant('shortlived');
    const headers = await app.readHeaders(tenantId);
    await admin.query('UPDATE tenants SET cache_ttl_seconds = 1 WHERE tenant_id = $1', [tenantId]);
    await setScore(tenantId, 0.6);
    expect(await read(tenantId, headers)).toMatchObject({ cache: 'MISS' });
    const [key] = await redis.keys(`${database.namespace}:gateway:cache:entry:${tenantId}:*`);
    // 1 s ± 10 % jitter (the default), against the 30 s default TTL.
    expect(await redis.pttl(key!)).toBeLessThanOrEqual(1_100);
    expect(await read(tenantId, headers)).toMatchObject({ cache: 'HIT' });
    await sleep(1_300);
    expect(await read(tenantId, headers)).toMatchObject({ cache: 'MISS' });
  });

  it('calls the subgraphs once for 20 concurrent reads of a cold key', async () => {
    const tenantId = tenant('stampede');
    const headers = await app.readHeaders(tenantId);
    await setScore(tenantId, 0.55);
    const reads = await Promise.all(Array.from({ length: 20 }, () => read(tenantId, headers)));
    expect(reads.every((r) => r.status === 200 && r.score === 0.55)).toBe(true);
    expect(reads.filter((r) => r.cache === 'MISS')).toHaveLength(1);
    expect(reads.filter((r) => r.cache === 'HIT')).toHaveLength(19);
  });
});

describe('tenantCoherence cache while its Redis fails', () => {
  let ownRedis: ManagedProcess | undefined;
  let redisPort: number;
  let second: Awaited<ReturnType<typeof startApplication>>;
  let secondDatabase: TestDatabase;

  async function startOwnRedis(): Promise<void> {
    const logFile = join(workDir, 'redis.log');
    ownRedis = spawnManaged({
      name: 'redis',
      command: 'redis-server',
      args: ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      logFile,
      cwd: workDir,
    });
    const probe = async () => {
      const client = new Redis(redisPort, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null });
      client.on('error', () => undefined); // refused until it listens; connect() rejects too
      try {
        await client.connect();
        return (await client.ping()) === 'PONG';
      } finally {
        client.disconnect();
      }
    };
    await waitUntilHealthy('redis', logFile, probe, 30_000, ownRedis);
  }

  beforeAll(async () => {
    redisPort = await freePort();
    await startOwnRedis();
    secondDatabase = await createTestDatabase(inject('services'));
    second = await startApplication(inject('services'), secondDatabase, {
      gatewayEnv: {
        GATEWAY_CACHE_ENABLED: 'true',
        GATEWAY_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        GATEWAY_REDIS_COMMAND_TIMEOUT_MS: '100',
      },
    });
  });

  afterAll(async () => {
    await second?.stop();
    await ownRedis?.stop();
    await secondDatabase?.drop();
  });

  it('serves from the subgraphs with no error while Redis is stopped, says so, and recovers by itself', async () => {
    const tenantId = `${secondDatabase.namespace}-outage`;
    const headers = await second.readHeaders(tenantId);
    const adminPool = createPgPool(secondDatabase.adminUrl);
    try {
      await adminPool.query(
        `INSERT INTO coherence_scores (tenant_id, score, status, agreement, window_iso, sources, as_of)
         VALUES ($1, 0.7, 'HEALTHY', 1, 'PT24H', '[{"source":"api","score":0.7,"count":3}]', now())`,
        [tenantId],
      );
    } finally {
      await adminPool.end();
    }
    await read(tenantId, headers, second.gatewayUrl);
    expect(await read(tenantId, headers, second.gatewayUrl)).toMatchObject({ status: 200, cache: 'HIT', score: 0.7 });

    await ownRedis!.stop();
    for (let i = 0; i < 5; i += 1) {
      expect(await read(tenantId, headers, second.gatewayUrl)).toMatchObject({ status: 200, cache: 'BYPASS', score: 0.7 });
    }
    const during = await metricsText(second.adminUrls.gateway);
    expect(metricValue(during, 'gateway_redis_up')).toBe(0);
    expect(metricValue(during, 'gateway_cache_requests_total{operation="TenantCoherence",outcome="bypass"}')).toBe(5);
    expect(metricValue(during, 'gateway_cache_errors_total{operation="TenantCoherence",step="lookup"}')).toBe(5);
    expect(metricValue(during, 'ratelimit_fallback_decisions_total{outcome="allowed"}')).toBe(5);

    // Back on the same port, empty: the gateway reconnects without being told.
    await startOwnRedis();
    let recovered: Read | undefined;
    for (let attempt = 0; attempt < 60 && recovered?.cache !== 'HIT'; attempt += 1) {
      recovered = await read(tenantId, headers, second.gatewayUrl);
      await sleep(100);
    }
    expect(recovered).toMatchObject({ status: 200, cache: 'HIT', score: 0.7 });
    expect(metricValue(await metricsText(second.adminUrls.gateway), 'gateway_redis_up')).toBe(1);
  });

  it('drops every cached read when the invalidation feed reconnects, since changes published meanwhile are unknown', async () => {
    const tenantId = `${secondDatabase.namespace}-feed`;
    const headers = await second.readHeaders(tenantId);
    await read(tenantId, headers, second.gatewayUrl);
    expect(await read(tenantId, headers, second.gatewayUrl)).toMatchObject({ cache: 'HIT' });
    const control = new Redis(redisPort, '127.0.0.1');
    try {
      expect(Number(await control.call('CLIENT', 'KILL', 'TYPE', 'pubsub'))).toBe(1);
    } finally {
      control.disconnect();
    }
    let after: Read | undefined;
    for (let attempt = 0; attempt < 40 && after?.cache !== 'MISS'; attempt += 1) {
      await sleep(100);
      after = await read(tenantId, headers, second.gatewayUrl);
    }
    expect(after).toMatchObject({ status: 200, cache: 'MISS' });
  });

  it('answers within the command timeout while Redis is paused', async () => {
    const tenantId = `${secondDatabase.namespace}-paused`;
    const headers = await second.readHeaders(tenantId);
    await read(tenantId, headers, second.gatewayUrl);
    const control = new Redis(redisPort, '127.0.0.1');
    try {
      await control.call('CLIENT', 'PAUSE', '3000', 'ALL');
      const started = Date.now();
      const paused = await read(tenantId, headers, second.gatewayUrl);
      expect(paused).toMatchObject({ status: 200, cache: 'BYPASS' });
      // Lookup (100 ms) and the limiter (100 ms) time out; the subgraphs answer the rest.
      expect(Date.now() - started).toBeLessThan(1_500);
    } finally {
      await control.call('CLIENT', 'UNPAUSE').catch(() => undefined);
      control.disconnect();
    }
  });
});
