import { createNeo4jDriver, createOutboxRelay, createRelayMetrics, ensureGraphSchema } from '@coherence/coherence';
import type { SignalsAcceptedEvent } from '@coherence/contracts';
import { createLogger, createPgPool, type PgPool } from '@coherence/platform';
import { appendOutboxEvents, signalsAcceptedEventFor, type TestSignal } from '@coherence/testkit';
import { createTestDatabase, freePort, type TestDatabase } from '@coherence/devservices';
import { spawnManaged, type ManagedProcess } from '@coherence/devservices/managedProcess';
import type { Driver } from 'neo4j-driver';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Registry } from 'prom-client';

/**
 * The relay process killed with SIGKILL in the middle of its work, then
 * restarted, must leave the graph and the read model exactly as a run that
 * was never interrupted: same signals (none twice), same edges, same scores.
 */
const repoRoot = resolve(import.meta.dirname, '..');
const TENANTS = 6;
const SIGNALS_PER_TENANT = 1_500;
const SIGNALS_PER_EVENT = 50;
/** One clock for both runs, so their signals differ only in tenant ids. */
const now = Date.now();

let database: TestDatabase;
let driver: Driver;
let admin: PgPool;
let relayProcess: ManagedProcess | undefined;
const logDir = mkdtempSync(join(tmpdir(), 'relay-crash-'));

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  driver = createNeo4jDriver(services.neo4jBoltUrl);
  await ensureGraphSchema(driver);
  admin = createPgPool(database.adminUrl);
});

afterAll(async () => {
  await relayProcess?.stop();
  await admin?.end();
  await driver?.close();
  await database?.drop();
});

/** The same signals for every run, told apart by the tenant prefix. */
function outboxEvents(run: string): SignalsAcceptedEvent[] {
  const events: SignalsAcceptedEvent[] = [];
  for (let t = 0; t < TENANTS; t += 1) {
    const tenantId = `${database.namespace}-${run}-${t}`;
    const signals: TestSignal[] = Array.from({ length: SIGNALS_PER_TENANT }, (_, i) => ({
      source: `source-${(i * 7 + t) % 4}`,
      signalId: `s-${i}`,
      ts: new Date(now - (i + 1) * 20_000).toISOString(),
      value: ((i * 37 + t * 11) % 1_000) / 1_000,
      weight: 1 + (i % 3),
    }));
    for (let i = 0; i < signals.length; i += SIGNALS_PER_EVENT) {
      const options = { correlationId: `crash-${run}`, timestamp: new Date(now).toISOString() };
      events.push(signalsAcceptedEventFor(tenantId, signals.slice(i, i + SIGNALS_PER_EVENT), options));
    }
  }
  // Interleave tenants, as concurrent producers would.
  return events.sort((a, b) => a.messageId.localeCompare(b.messageId));
}

const appendToOutbox = (events: readonly SignalsAcceptedEvent[]) => appendOutboxEvents(admin, events);

async function pendingOf(run: string): Promise<{ pending: number; done: number }> {
  const { rows } = await admin.query<{ pending: number; done: number }>(
    `SELECT count(*) FILTER (WHERE processed_at IS NULL)::int AS pending, count(*) FILTER (WHERE processed_at IS NOT NULL)::int AS done
       FROM outbox WHERE tenant_id LIKE $1`,
    [`${database.namespace}-${run}-%`],
  );
  return rows[0]!;
}

function startRelayProcess(attempt: number, port = 0): ManagedProcess {
  const services = inject('services');
  return spawnManaged({
    name: `relay-${attempt}`,
    command: process.execPath,
    args: ['--import', 'tsx', join(repoRoot, 'subgraphs/coherence/src/relay/main.ts')],
    cwd: repoRoot,
    logFile: join(logDir, `relay-${attempt}.log`),
    env: {
      PATH: process.env['PATH'],
      RELAY_DATABASE_URL: database.urls.relay,
      RELAY_ADMIN_PORT: String(port),
      RELAY_BATCH_SIZE: '4',
      RELAY_IDLE_POLL_MS: '50',
      NEO4J_URL: services.neo4jBoltUrl,
      REDIS_URL: services.redisUrl,
      COHERENCE_CHANGED_CHANNEL: `${database.namespace}:coherence.changed`,
      LOG_LEVEL: 'warn',
    },
  });
}

/** Everything a run left behind, with the run's prefix taken out of tenant ids. */
async function stateOf(run: string) {
  const prefix = `${database.namespace}-${run}-`;
  const graph = await driver.executeQuery(
    `MATCH (t:Tenant) WHERE t.id STARTS WITH $prefix
     OPTIONAL MATCH (t)-[e:EMITS]->(s:Signal)-[f:FROM]->(src:Source)
     WITH t, s, src, count(e) AS emits, count(f) AS froms
     ORDER BY t.id, s.source, s.signalId
     RETURN substring(t.id, size($prefix)) AS tenant,
            collect([s.source, s.signalId, toString(s.ts), s.value, s.weight, src.name, emits, froms]) AS signals`,
    { prefix },
  );
  const counts = await driver.executeQuery(
    `MATCH (s:Signal) WHERE s.tenantId STARTS WITH $prefix WITH count(s) AS signals
     MATCH (src:Source) WHERE src.tenantId STARTS WITH $prefix RETURN signals, count(src) AS sources`,
    { prefix },
  );
  const readModel = await admin.query(
    // ::int matters: `substring(text from text)` is the regular-expression form.
    `SELECT substring(tenant_id from $2::int) AS tenant, score, status, agreement, window_iso, sources
       FROM coherence_scores WHERE tenant_id LIKE $1 ORDER BY tenant_id`,
    [`${prefix}%`, prefix.length + 1],
  );
  return {
    graph: graph.records.map((r) => r.toObject()),
    counts: counts.records[0]!.toObject(),
    readModel: readModel.rows,
  };
}

describe('relay crash and resume', () => {
  it('converges to the state of an uninterrupted run after a SIGKILL mid-batch', async () => {
    const logger = createLogger('test', 'silent');
    const relayPool = createPgPool(database.urls.relay);
    try {
      await appendToOutbox(outboxEvents('calm'));
      const calmRelay = createOutboxRelay({ pool: relayPool, driver, logger, windowHours: 24, batchSize: 4 });
      await calmRelay.drainAll();
    } finally {
      await relayPool.end();
    }
    const uninterrupted = await stateOf('calm');
    expect(uninterrupted.counts).toEqual({ signals: TENANTS * SIGNALS_PER_TENANT, sources: TENANTS * 4 });

    const events = outboxEvents('crash');
    await appendToOutbox(events);
    relayProcess = startRelayProcess(1);
    for (let waited = 0; (await pendingOf('crash')).done < events.length / 4; waited += 50) {
      if (waited > 60_000) throw new Error(`the relay made no progress; see ${relayProcess.logFile}`);
      await sleep(50);
    }
    process.kill(-relayProcess.pid, 'SIGKILL');
    await relayProcess.exited;
    const atCrash = await pendingOf('crash');
    expect(atCrash.pending).toBeGreaterThan(0);
    expect(atCrash.done).toBeGreaterThan(0);

    // While the relay is down its lag keeps growing: it is read from the outbox at scrape time.
    const registry = new Registry();
    createRelayMetrics(registry, admin);
    await sleep(1_100);
    const whileDown = await registry.getSingleMetricAsString('relay_outbox_lag_seconds');
    expect(Number(/^relay_outbox_lag_seconds (\S+)$/m.exec(whileDown)?.[1])).toBeGreaterThan(1);

    const metricsPort = await freePort();
    relayProcess = startRelayProcess(2, metricsPort);
    for (let waited = 0; (await pendingOf('crash')).pending > 0; waited += 100) {
      if (waited > 120_000) throw new Error(`the restarted relay did not drain the outbox; see ${relayProcess.logFile}`);
      await sleep(100);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^relay_outbox_lag_seconds 0$/m);
    expect(metrics).toMatch(/^relay_outbox_backlog 0$/m);
    expect(Number(/^relay_events_total (\S+)$/m.exec(metrics)?.[1])).toBe(atCrash.pending);
    expect(metrics).toMatch(/^relay_event_lag_seconds_count \d+$/m);
    await relayProcess.stop();
    expect(await relayProcess.exited).toBe(0);

    expect(await stateOf('crash')).toEqual(uninterrupted);
  }, 240_000);
});
