import { createLogger, createPgPool, type PgPool } from '@coherence/platform';
import { appendOutboxEvents, signalsAcceptedEventFor } from '@coherence/testkit';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import type { Driver } from 'neo4j-driver';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createNeo4jDriver, ensureGraphSchema } from '../graph/signalGraph';
import { createOutboxRelay } from './createOutboxRelay';

/**
 * Two relays side by side on one tenant (docs/adr/0019-scale-out.md): each
 * claims its own events (SKIP LOCKED), but both recompute the same tenant's
 * score. Whatever the interleaving, the stored score must count every signal,
 * and the recorded changes must follow one another.
 */
let database: TestDatabase;
let driver: Driver;
let admin: PgPool;
let relayPool: PgPool;
const logger = createLogger('test', 'silent');

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  driver = createNeo4jDriver(services.neo4jBoltUrl);
  await ensureGraphSchema(driver);
  admin = createPgPool(database.adminUrl);
  relayPool = createPgPool(database.urls.relay);
});

afterAll(async () => {
  await relayPool?.end();
  await admin?.end();
  await driver?.close();
  await database?.drop();
});

/**
 * The driver, except that its first score aggregate (the query summing
 * `s.weight * s.value`) waits for `hold` before answering: the relay using it
 * has read the graph but not yet written the read model.
 */
function holdingFirstAggregate(target: Driver, hold: () => Promise<void>): Driver {
  let held = false;
  const executeQuery = async (...args: unknown[]): Promise<unknown> => {
    const result = await (target.executeQuery as (...a: unknown[]) => Promise<unknown>).apply(target, args);
    if (!held && String(args[0]).includes('sum(s.weight * s.value)')) {
      held = true;
      await hold();
    }
    return result;
  };
  return new Proxy(target, {
    get: (driverTarget, property) => {
      if (property === 'executeQuery') return executeQuery;
      const value: unknown = Reflect.get(driverTarget, property, driverTarget);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(driverTarget) : value;
    },
  });
}

it('leaves the score of every signal when a relay recomputes a tenant while another has read the graph but not written the score', async () => {
  const tenantId = `${database.namespace}-side-by-side`;
  const at = new Date().toISOString();
  const first = signalsAcceptedEventFor(tenantId, [{ source: 'api', value: 0.9 }], { timestamp: at });
  const second = signalsAcceptedEventFor(tenantId, [{ source: 'api', value: 0.1 }], { timestamp: at });
  await appendOutboxEvents(admin, [first, second]);

  // Relay b claims the second event while a holds the first, between a's read of the graph and its write of the score.
  const relayB = createOutboxRelay({ pool: relayPool, driver, logger, windowHours: 24, batchSize: 1 });
  let drainedByB: Promise<unknown> | undefined;
  const relayA = createOutboxRelay({
    pool: relayPool,
    driver: holdingFirstAggregate(driver, async () => {
      drainedByB = relayB.drainBatch();
      // Until b has committed; if b waits for a instead (as it must), a goes on after 2 s.
      await Promise.race([drainedByB, sleep(2_000)]);
    }),
    logger,
    windowHours: 24,
    batchSize: 1,
  });
  expect((await relayA.drainBatch()).events).toBe(1);
  expect(await drainedByB).toMatchObject({ events: 1 });

  const { rows: scores } = await admin.query('SELECT score, status FROM coherence_scores WHERE tenant_id = $1', [tenantId]);
  expect(scores).toEqual([{ score: 0.5, status: 'WARN' }]);
  // Each recorded change starts where the one before it ended: none is told twice from the same state.
  const { rows: changes } = await admin.query<{ message: { payload: { previous: unknown; current: { score: number } } } }>(
    'SELECT message FROM coherence_score_history WHERE tenant_id = $1 ORDER BY id',
    [tenantId],
  );
  expect(changes.map(({ message }) => [message.payload.previous, message.payload.current.score])).toEqual([
    [null, 0.9],
    [{ score: 0.9, status: 'HEALTHY' }, 0.5],
  ]);
});
