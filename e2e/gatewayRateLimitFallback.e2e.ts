import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createTestDatabase, freePort, type TestDatabase } from '@coherence/devservices';
import { startApplication } from './support/startApplication';
import { spawnManaged, waitUntilHealthy, type ManagedProcess } from '@coherence/devservices/managedProcess';
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * The gateway's limiter while its Redis is paused (every command times out,
 * as when the saturated gateway times out its own calls): the in-process
 * fallback holds each tenant to its share, answers are 200 or 429, never a
 * 5xx, and Redis takes over again once it answers. A Redis of its own, so
 * pausing it stalls no other test.
 */
const RATE = 5;
const BURST = 2 * RATE;
const SEND_MS = 3_000;
const tenantCoherenceId = manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id;
const workDir = mkdtempSync(join(tmpdir(), 'coherence-gateway-limiter-fallback-'));
let ownRedis: ManagedProcess | undefined;
let control: Redis;
let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;

beforeAll(async () => {
  const port = await freePort();
  const logFile = join(workDir, 'redis.log');
  ownRedis = spawnManaged({
    name: 'redis',
    command: 'redis-server',
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    logFile,
    cwd: workDir,
  });
  control = new Redis(port, '127.0.0.1', { lazyConnect: true });
  control.on('error', () => undefined); // refused until it listens
  await waitUntilHealthy('redis', logFile, async () => (await control.ping().catch(() => undefined)) === 'PONG', 30_000, ownRedis);
  database = await createTestDatabase(inject('services'));
  app = await startApplication(inject('services'), database, {
    gatewayEnv: {
      GATEWAY_REDIS_URL: `redis://127.0.0.1:${port}`,
      GATEWAY_REDIS_COMMAND_TIMEOUT_MS: '100',
      GATEWAY_RATE_PER_SECOND: String(RATE),
      GATEWAY_RATE_BURST_SECONDS: '2',
      // Shares shrinking under saturation is tested in createGatewayLimiter.int.ts; here a busy test machine must not trigger it.
      GATEWAY_SATURATION_IN_FLIGHT: '100000',
      GATEWAY_SATURATION_LOOP_DELAY_MS: '100000',
    },
  });
});

afterAll(async () => {
  await app?.stop();
  control?.disconnect();
  await ownRedis?.stop();
  await database?.drop();
  rmSync(workDir, { recursive: true, force: true });
});

async function read(tenantId: string, headers: Record<string, string>): Promise<number> {
  const response = await fetch(`${app.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: tenantCoherenceId } }, variables: { tenantId } }),
  });
  await response.arrayBuffer();
  return response.status;
}

async function metricValue(series: string): Promise<number> {
  const text = await (await fetch(`${app.adminUrls.gateway}/metrics`)).text();
  return Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

describe('per-tenant limiter while its Redis is paused', () => {
  it('holds a tenant pushing 10× its rate to within 2× its share, 200 or 429 only, and hands back to Redis', async () => {
    const tenantId = `${database.namespace}-paused`;
    const headers = await app.readHeaders(tenantId);
    expect(await read(tenantId, headers)).toBe(200);

    // Every client, the gateway's included, waits until the pause ends: its limiter calls time out after 100 ms.
    const pauseMs = SEND_MS + 2_000;
    await control.call('CLIENT', 'PAUSE', String(pauseMs), 'ALL');
    const pausedAt = Date.now();
    const pending: Promise<number>[] = [];
    const intervalMs = 1_000 / (10 * RATE);
    for (let i = 0; i < (SEND_MS / 1_000) * 10 * RATE; i += 1) {
      pending.push(read(tenantId, headers));
      await sleep(Math.max(0, pausedAt + (i + 1) * intervalMs - Date.now()));
    }
    const statuses = await Promise.all(pending);
    const answeredMs = Date.now() - pausedAt;
    expect(answeredMs).toBeLessThan(pauseMs); // all of it decided while Redis was paused
    expect(new Set(statuses)).toEqual(new Set([200, 429]));
    const ok = statuses.filter((status) => status === 200).length;
    const share = BURST + (RATE * answeredMs) / 1_000;
    console.info(`paused Redis: ${ok} of ${statuses.length} admitted in ${answeredMs} ms; share ${share.toFixed(1)}`);
    expect(ok).toBeLessThanOrEqual(2 * share);
    expect(ok).toBeGreaterThanOrEqual(BURST);
    expect(await metricValue('ratelimit_redis_available')).toBe(0);
    expect(await metricValue('ratelimit_fallback_decisions_total{outcome="limited"}')).toBe(statuses.length - ok);

    // Once the pause ends, the next answer from Redis ends the fallback.
    await sleep(pausedAt + pauseMs + 100 - Date.now());
    const after = `${database.namespace}-after`;
    const afterHeaders = await app.readHeaders(after);
    let available = 0;
    for (let attempt = 0; attempt < 50 && available !== 1; attempt += 1) {
      await read(after, afterHeaders);
      available = await metricValue('ratelimit_redis_available');
    }
    expect(available).toBe(1);
  });
});
