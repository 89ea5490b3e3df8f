import { createCoherenceService, createOutboxRelay, createNeo4jDriver, ensureGraphSchema, readCoherenceConfig } from '@coherence/coherence';
import { createCommsService, readCommsConfig } from '@coherence/comms';
import { createGateway, readGatewayConfig } from '@coherence/gateway';
import { createIngestService, readIngestConfig } from '@coherence/ingest';
import { createLogger, createPgPool } from '@coherence/platform';
import type { AddressInfo } from 'node:net';
import type { ServiceEndpoints } from './startServices';
import type { TestDatabase } from './testDatabase';

const urlOf = (app: { server: { address(): unknown } }, path = '') =>
  `http://127.0.0.1:${(app.server.address() as AddressInfo).port}${path}`;

/**
 * The whole application in this process, on free ports, against the real
 * servers: ingest, coherence and comms subgraphs, the gateway over them, and
 * an outbox relay the test drives (`relay.drainAll()`) so it knows when the
 * projection is done. Config goes through each service's own config reader,
 * as in production.
 */
export async function startApplication(endpoints: ServiceEndpoints, database: TestDatabase) {
  const logger = createLogger('test', 'silent');
  const ingest = await createIngestService(readIngestConfig({ INGEST_DATABASE_URL: database.appUrl, INGEST_PORT: '0' }), logger);
  const coherence = await createCoherenceService(readCoherenceConfig({ COHERENCE_DATABASE_URL: database.appUrl }), logger);
  const comms = await createCommsService(readCommsConfig({ COMMS_DATABASE_URL: database.appUrl }), logger);
  for (const service of [ingest, coherence, comms]) await service.app.listen({ port: 0, host: '127.0.0.1' });

  const gateway = await createGateway(
    readGatewayConfig({
      SUBGRAPH_INGEST_URL: urlOf(ingest.app, '/graphql'),
      SUBGRAPH_COHERENCE_URL: urlOf(coherence.app, '/graphql'),
      SUBGRAPH_COMMS_URL: urlOf(comms.app, '/graphql'),
    }),
    logger,
  );
  await gateway.app.listen({ port: 0, host: '127.0.0.1' });

  const driver = createNeo4jDriver(endpoints.neo4jBoltUrl);
  await ensureGraphSchema(driver);
  const relayPool = createPgPool(database.relayUrl);
  const relay = createOutboxRelay({ pool: relayPool, driver, logger, windowHours: 24 });

  return {
    ingestUrl: urlOf(ingest.app),
    gatewayUrl: urlOf(gateway.app),
    relay,
    driver,
    async stop() {
      await relay.stop();
      await gateway.close();
      await Promise.all([ingest.close(), coherence.close(), comms.close()]);
      await relayPool.end();
      await driver.close();
    },
  };
}
