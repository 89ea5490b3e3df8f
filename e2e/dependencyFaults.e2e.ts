import {
  createTestDatabase,
  adminQuery,
  adminUrl,
  createUnleashAdmin,
  TEMPLATE_DATABASE,
  unleashClientEnv,
  type TestDatabase,
} from '@coherence/devservices';
import { defaultFlagStates, flagNames } from '@coherence/flags';
import { migrateDatabase } from '@coherence/migrations';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createPgPool, type PgPool } from '@coherence/platform';
import { coherenceChangedFor } from '@coherence/testkit';
import { createClient } from 'graphql-ws';
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startFaultableServices, type FaultableServices } from '../scripts/drills/dependencies';
import type { DrillContext, Scenario } from '../scripts/drills/scenario';
import { scenarios } from '../scripts/drills/scenarios';
import { startApplication } from './support/startApplication';

/**
 * Each dependency scenario of the drills (scripts/drills/scenarios/) against
 * the whole application in process, over servers of this file's own behind
 * the fault proxies (stopping the global setup's would break the files that
 * share them): the scenario's fault is injected while a steady load of HTTP
 * pushes and persisted reads runs, and the promise the scenario makes
 * (docs/runbooks/drills/) is checked: no 5xx (503 with Retry-After where
 * allowed), every acknowledged signal stored once and projected after heal.
 */
const tenantCoherenceId = manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id;
const coherenceEventsId = manifest.operations.findLast((op) => op.name === 'CoherenceEvents')!.id;
const REGION = 'us';

let rootDir: string;
let services: FaultableServices;
let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
let admin: PgPool;
let context: DrillContext;
let tenantId: string;
let readHeaders: Record<string, string>;
let writeHeaders: Record<string, string>;

beforeAll(async () => {
  rootDir = mkdtempSync(join(tmpdir(), 'coherence-dependency-faults-'));
  services = await startFaultableServices({ rootDir, unleashFlags: defaultFlagStates });
  const { endpoints } = services;
  await adminQuery(endpoints, `CREATE DATABASE ${TEMPLATE_DATABASE}`);
  await migrateDatabase(adminUrl(endpoints, TEMPLATE_DATABASE));
  database = await createTestDatabase(endpoints);
  await createUnleashAdmin(endpoints.unleash).setFlag(flagNames.regionRouting, true);
  const { host, replicaPort } = endpoints.postgres;
  app = await startApplication(endpoints, database, {
    gatewayEnv: {
      ...unleashClientEnv(endpoints.unleash, 200),
      GATEWAY_REGION: REGION,
      // The cache is on, so Redis faults reach it, but short-lived: the in-process relay publishes no CoherenceChanged,
      // and reads must still reach the coherence subgraph (and its replica) every second.
      GATEWAY_CACHE_ENABLED: 'true',
      GATEWAY_CACHE_TTL_SECONDS: '1',
    },
    coherenceEnv: {
      COHERENCE_READ_REPLICAS: `${REGION}=postgres://coherence_app@${host}:${replicaPort}/${database.name}`,
      COHERENCE_REPLICA_MAX_LAG_MS: '1000',
    },
  });
  app.relay.start();
  admin = createPgPool(database.adminUrl, { max: 2 });
  tenantId = `${database.namespace}-drill`;
  await app.registerTenant(tenantId, REGION);
  readHeaders = await app.readHeaders(tenantId);
  writeHeaders = await app.writeHeaders(tenantId);
  context = {
    dependencies: services.controls,
    processes: {
      names: [],
      killAndRestart: () => Promise.reject(new Error('no process control in process')),
      stop: () => Promise.reject(new Error('no process control in process')),
      start: () => Promise.reject(new Error('no process control in process')),
    },
    gatewayUrl: app.gatewayUrl,
    prometheusUrl: 'http://127.0.0.1:1',
    adminUrls: app.adminUrls,
    log: () => undefined,
  };
  // A first score, so reads during every fault have one (with its asOf) to serve.
  await runLoad(1_000);
  await caughtUp();
}, 600_000);

afterAll(async () => {
  await app?.stop();
  await admin?.end();
  await database?.drop().catch(() => undefined);
  await services?.stop();
  if (rootDir) rmSync(rootDir, { recursive: true, force: true });
}, 120_000);

interface LoadResult {
  /** HTTP status → count, over pushes and reads. */
  statuses: Record<number, number>;
  /** 503s that came without a Retry-After header. */
  unavailableWithoutRetryAfter: number;
  /** signalIds ingest acknowledged with 202. */
  acknowledged: string[];
  /** Scores the reads served (null: never computed). */
  scores: (number | null)[];
  asOfs: (string | null)[];
  /** Reads answered with GraphQL errors (a 200 that is still a failed read). */
  failedReads: string[];
}

let nextSignal = 0;

/** Pushes one signal and reads the score, over and over, until `durationMs` have passed. */
async function runLoad(durationMs: number, during?: () => Promise<void>): Promise<LoadResult> {
  const result: LoadResult = { statuses: {}, unavailableWithoutRetryAfter: 0, acknowledged: [], scores: [], asOfs: [], failedReads: [] };
  const count = (response: Response) => {
    result.statuses[response.status] = (result.statuses[response.status] ?? 0) + 1;
    if (response.status === 503 && response.headers.get('retry-after') === null) result.unavailableWithoutRetryAfter += 1;
  };
  let stopping = false;
  const push = async () => {
    while (!stopping) {
      const signalId = `s${(nextSignal += 1)}`;
      const response = await fetch(`${app.ingestUrl}/v1/signals`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...writeHeaders },
        body: JSON.stringify({
          // Values that move the score, so every projection changes it and the gateway's cached answer is invalidated.
          signals: [{ tenantId, source: 'drill', signalId, ts: new Date().toISOString(), type: 'latency', value: (nextSignal % 10) / 10 }],
        }),
      }).catch(() => undefined);
      if (response) {
        count(response);
        if (response.status === 202) result.acknowledged.push(signalId);
        await response.arrayBuffer();
      }
      await sleep(40);
    }
  };
  const read = async () => {
    while (!stopping) {
      const response = await fetch(`${app.gatewayUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...readHeaders },
        body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: tenantCoherenceId } }, variables: { tenantId } }),
      }).catch(() => undefined);
      if (response) {
        count(response);
        const body = (await response.json().catch(() => ({}))) as {
          data?: { tenantCoherence?: { score: number | null; asOf: string | null } };
        };
        if (body.data?.tenantCoherence) {
          result.scores.push(body.data.tenantCoherence.score);
          result.asOfs.push(body.data.tenantCoherence.asOf);
        }
      }
      await sleep(40);
    }
  };
  const workers = [push(), read()];
  const startedAt = Date.now();
  await during?.();
  await sleep(Math.max(0, durationMs - (Date.now() - startedAt)));
  stopping = true;
  await Promise.all(workers);
  return result;
}

/** Waits until the relay has projected every accepted signal; the time it took. */
async function caughtUp(timeoutMs = 120_000): Promise<number> {
  const startedAt = Date.now();
  for (;;) {
    const { rows } = await admin
      .query<{ pending: number }>('SELECT count(*)::int AS pending FROM outbox WHERE processed_at IS NULL')
      .catch(() => ({ rows: [{ pending: -1 }] }));
    if (rows[0]!.pending === 0) return Date.now() - startedAt;
    if (Date.now() - startedAt > timeoutMs) throw new Error(`outbox not drained within ${timeoutMs} ms (${rows[0]!.pending} pending)`);
    await sleep(200);
  }
}

/** Every acknowledged signal is in the ledger exactly once. */
async function expectStoredOnce(acknowledged: readonly string[]) {
  const { rows } = await admin.query<{ signal_id: string; n: number }>(
    'SELECT signal_id, count(*)::int AS n FROM signal_ledger WHERE tenant_id = $1 AND signal_id = ANY($2) GROUP BY signal_id',
    [tenantId, acknowledged],
  );
  expect(rows.length).toBe(acknowledged.length);
  expect(rows.every((row) => row.n === 1)).toBe(true);
}

const fiveHundreds = (statuses: Record<number, number>) =>
  Object.entries(statuses)
    .filter(([status]) => Number(status) >= 500 && Number(status) !== 503)
    .reduce((n, [, count]) => n + count, 0);

const scenario = (name: string): Scenario => {
  const found = scenarios.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no scenario ${name}`);
  return found;
};

/** Injects the scenario's fault, runs the load through it, observes, heals; then the shared promises. */
async function drill(name: string, holdMs = 4_000, whileFaulted?: () => Promise<void>) {
  const chosen = scenario(name);
  let observed: Record<string, string | number | boolean> = {};
  const load = await runLoad(holdMs, async () => {
    await chosen.inject(context);
    await sleep(holdMs / 2);
    observed = (await chosen.observe?.(context)) ?? {};
    await whileFaulted?.();
  });
  await chosen.heal(context);
  const catchUpMs = await caughtUp();
  const after = await runLoad(500);
  expect(fiveHundreds(load.statuses), JSON.stringify(load.statuses)).toBe(0);
  if (!chosen.promises.allow503) expect(load.statuses[503] ?? 0, JSON.stringify(load.statuses)).toBe(0);
  expect(load.unavailableWithoutRetryAfter).toBe(0);
  if (!chosen.promises.allow503) expect(load.failedReads).toEqual([]);
  await expectStoredOnce([...load.acknowledged, ...after.acknowledged]);
  expect(after.statuses[202]).toBeGreaterThan(0);
  return { load, observed, catchUpMs };
}

// A JVM (Neo4j, Kafka) starting again on a loaded machine takes tens of seconds of a scenario's heal.
describe('dependency faults under load keep their promises', { timeout: 240_000 }, () => {
  it('redis-down: reads served uncached, the limiter on its fallback, no 5xx; a subscription gets changes again after', async () => {
    const client = createClient({
      url: `${app.gatewayUrl.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: readHeaders['authorization'] },
      retryAttempts: 0,
    });
    const publisher = new Redis(services.endpoints.redisUrl, { maxRetriesPerRequest: 1 });
    publisher.on('error', () => undefined);
    const events = client.iterate<{ coherenceEvents: { score: number | null } }>({
      query: '',
      extensions: { persistedQuery: { version: 1, sha256Hash: coherenceEventsId } },
      variables: { tenantId },
    });
    /** Publishes a change of the tenant until the subscription delivers it (when the gateway has subscribed is not observable). */
    const delivered = async (score: number) => {
      const next = events.next();
      let received: Awaited<typeof next> | undefined;
      void next.then((result) => (received = result));
      const deadline = Date.now() + 60_000;
      while (received === undefined && Date.now() < deadline) {
        const message = JSON.stringify(coherenceChangedFor({ tenantId, score }));
        await publisher.publish(`${database.namespace}:coherence.changed`, message).catch(() => 0);
        await sleep(300);
      }
      return received?.value;
    };
    try {
      expect(await delivered(0.41)).toEqual({ data: { coherenceEvents: expect.objectContaining({ score: 0.41 }) } });
      let startedWithoutRedis = false;
      const { load, observed } = await drill('redis-down', 4_000, async () => {
        // A process restarted during the outage starts (ingest awaited Redis and crashed on it).
        const started = await startApplication(services.endpoints, database);
        startedWithoutRedis = true;
        await started.stop();
      });
      expect(startedWithoutRedis).toBe(true);
      expect(observed['gateway sees Redis up']).toBe(0);
      expect(observed['limiter fallback decisions']).toBeGreaterThan(0);
      expect(load.statuses[200]).toBeGreaterThan(0);
      expect(load.acknowledged.length).toBeGreaterThan(0);
      // The subscription opened before the outage is served again once Redis is back.
      expect(await delivered(0.42)).toEqual({ data: { coherenceEvents: expect.objectContaining({ score: 0.42 }) } });
      await events.return?.();
    } finally {
      publisher.disconnect();
      await client.dispose();
    }
  });

  it('redis-slow: 300 ms on every Redis exchange, no 5xx', async () => {
    const { load } = await drill('redis-slow');
    expect(load.statuses[200]).toBeGreaterThan(0);
  });

  it('neo4j-down: ingest keeps accepting, reads serve the last score with its asOf, the relay catches up after', async () => {
    const { load, observed, catchUpMs } = await drill('neo4j-down', 6_000);
    expect(load.acknowledged.length).toBeGreaterThan(0);
    expect(load.scores.length).toBeGreaterThan(0);
    expect(load.scores.every((score) => score !== null)).toBe(true);
    expect(load.asOfs.every((asOf) => asOf !== null)).toBe(true);
    expect(observed['outbox backlog (waiting for the graph)']).toBeGreaterThan(0);
    // Its readiness must not take the score reads out of service with it.
    expect(observed['coherence ready (score reads need Postgres only)']).toBe(true);
    expect(catchUpMs).toBeLessThan(120_000);
  });

  it('postgres-replica-lag: reads fall back to the primary once the replica is over the lag bound', async () => {
    const { load, observed } = await drill('postgres-replica-lag', 6_000);
    expect(load.statuses[200]).toBeGreaterThan(0);
    expect(observed['reads fallen back from the replica (lag)']).toBeGreaterThan(0);
  });

  it('postgres-replica-down: reads fall back to the primary, never an error', async () => {
    const { load, observed } = await drill('postgres-replica-down', 6_000);
    expect(load.statuses[200]).toBeGreaterThan(0);
    expect(observed['reads fallen back from the replica (down)']).toBeGreaterThan(0);
  });

  it('postgres-primary-restart: acknowledged writes survive, 503 with Retry-After at worst, never a 500', async () => {
    const { load } = await drill('postgres-primary-restart', 6_000);
    expect(load.acknowledged.length).toBeGreaterThan(0);
  });

  it('unleash-down: last-known flags held; a gateway started meanwhile runs on the bootstrap, kill switch included', async () => {
    let bootstrapped: { status: number; code: unknown } | undefined;
    const { load, observed } = await drill('unleash-down', 4_000, async () => {
      const started = await startApplication(services.endpoints, database, {
        gatewayEnv: { ...unleashClientEnv(services.endpoints.unleash, 200), GATEWAY_REGION: REGION, FLAGS_BOOTSTRAP: 'v24.coherence=off' },
      });
      try {
        const response = await fetch(`${started.gatewayUrl}/graphql`, {
          method: 'POST',
          // That application's gateway trusts its own key pair only.
          headers: { 'content-type': 'application/json', ...(await started.readHeaders(tenantId)) },
          body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: tenantCoherenceId } }, variables: { tenantId } }),
        });
        const body = (await response.json()) as { errors?: { extensions: { code: string } }[] };
        bootstrapped = { status: response.status, code: body.errors?.[0]?.extensions.code };
      } finally {
        await started.stop();
      }
    });
    expect(observed[`kill switch ${flagNames.coherence} held`]).toBe(1);
    expect(load.statuses[200]).toBeGreaterThan(0);
    expect(bootstrapped).toEqual({ status: 503, code: 'FEATURE_DISABLED' });
  });

  it('kafka-down: HTTP ingest unaffected', async () => {
    const { load } = await drill('kafka-down');
    expect(Object.keys(load.statuses).sort()).toEqual(['200', '202']);
  });

  it('network-latency: slower, never failing', async () => {
    const { load } = await drill('network-latency');
    expect(load.statuses[200]).toBeGreaterThan(0);
    expect(load.acknowledged.length).toBeGreaterThan(0);
  });
});
