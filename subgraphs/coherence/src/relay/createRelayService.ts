import { createPgPool, createServiceApp, type Logger } from '@coherence/platform';
import type { RelayConfig } from '../config';
import { createNeo4jDriver, ensureGraphSchema } from '../graph/signalGraph';
import { createOutboxRelay } from './createOutboxRelay';

/** Wires the relay process: the outbox loop plus health endpoints (it serves no API). */
export async function createRelayService(config: RelayConfig, logger: Logger) {
  const pool = createPgPool(config.RELAY_DATABASE_URL, { onIdleError: (err) => logger.warn({ err }, 'idle postgres client failed') });
  const driver = createNeo4jDriver(
    config.NEO4J_URL,
    config.NEO4J_USER && config.NEO4J_PASSWORD ? { user: config.NEO4J_USER, password: config.NEO4J_PASSWORD } : undefined,
  );
  await ensureGraphSchema(driver);
  const relay = createOutboxRelay({
    pool,
    driver,
    logger,
    batchSize: config.RELAY_BATCH_SIZE,
    idlePollMs: config.RELAY_IDLE_POLL_MS,
    windowHours: config.COHERENCE_WINDOW_HOURS,
  });
  const { app, markDraining } = createServiceApp({
    logger,
    readinessChecks: [
      { name: 'postgres', check: async () => void (await pool.query('SELECT 1')) },
      { name: 'neo4j', check: async () => void (await driver.verifyConnectivity()) },
    ],
  });
  return {
    app,
    relay,
    async close() {
      markDraining();
      await relay.stop();
      await app.close();
      await driver.close();
      await pool.end();
    },
  };
}
