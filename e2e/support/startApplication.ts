import { DEV_ISSUER, ensureDevInternalKeys, ensureDevKeys, mintDevToken, type DevTokenClaims } from '@coherence/auth';
import { createCoherenceService, createOutboxRelay, createNeo4jDriver, ensureGraphSchema, readCoherenceConfig } from '@coherence/coherence';
import { createCommsService, readCommsConfig } from '@coherence/comms';
import type { ServiceEndpoints, TestDatabase } from '@coherence/devservices';
import { createGateway, readGatewayConfig } from '@coherence/gateway';
import { createIngestService, readIngestConfig } from '@coherence/ingest';
import { createLogger, createPgPool } from '@coherence/platform';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const urlOf = (app: { server: { address(): unknown } }, path = '') =>
  `http://127.0.0.1:${(app.server.address() as AddressInfo).port}${path}`;

export interface ApplicationOptions {
  /**
   * Extra gateway environment (GATEWAY_REGION defaults to `us`), e.g. GATEWAY_PAUSED_SCOPES or GATEWAY_BREAK_GLASS_UNTIL.
   * The response cache is off unless GATEWAY_CACHE_ENABLED is `true`, the limiter's rate is out of reach unless GATEWAY_RATE_PER_SECOND is set, the refusal throttle's unless GATEWAY_ADDRESS_REFUSAL_BURST is;
   * Redis keys and the CoherenceChanged channel carry the database's namespace.
   */
  gatewayEnv?: Record<string, string>;
  /** Extra coherence subgraph environment, e.g. COHERENCE_READ_REPLICAS (or COHERENCE_DATABASE_URL through a latency proxy). */
  coherenceEnv?: Record<string, string>;
  /**
   * How many of each service (ingest, coherence, comms, gateway) to start, each gateway over its own subgraphs, all on
   * one database, Redis and channel (docs/adr/0019-scale-out.md); default 1. The fields below are the first's; `instances` has them all.
   */
  instances?: number;
}

/** Claims of a test token; `sub` defaults to `test-user`, residency to `us`. */
export type TestTokenClaims = Omit<DevTokenClaims, 'sub' | 'residency'> & { sub?: string; residency?: readonly string[] };

/**
 * The whole application in this process, on free ports, against the real
 * servers: ingest, coherence and comms subgraphs, the gateway over them, and
 * an outbox relay the test drives (`relay.drainAll()`) so it knows when the
 * projection is done. Config goes through each service's own config reader,
 * as in production. The gateway trusts a dev key pair made for this call;
 * `mintToken` signs tokens with it. The gateway signs its subgraph calls with
 * a dev internal key pair of its own, also made for this call.
 */
export async function startApplication(endpoints: ServiceEndpoints, database: TestDatabase, options: ApplicationOptions = {}) {
  const logger = createLogger('test', 'silent');
  const keyDir = mkdtempSync(join(tmpdir(), 'coherence-keys-'));
  const keys = await ensureDevKeys(keyDir);
  const internalKeys = await ensureDevInternalKeys(keyDir);
  const subgraphEnv = { SUBGRAPH_INTERNAL_JWKS: internalKeys.jwksPath };
  /** One of each service; its gateway calls its own subgraphs. */
  const startInstance = async () => {
    const ingest = await createIngestService(
      readIngestConfig({
        INGEST_DATABASE_URL: database.urls.ingest,
        INGEST_REGION: 'us',
        INGEST_DECISION_FLUSH_MS: '20',
        INGEST_PORT: '0',
        INGEST_SUBGRAPH_PORT: '0',
        INGEST_JWKS: keys.jwksPath,
        INGEST_TOKEN_ISSUERS: DEV_ISSUER,
        INGEST_REDIS_URL: endpoints.redisUrl,
        // Tests send many refused tokens from one address on purpose; ingest's refusal throttle is tested on its own.
        INGEST_ADDRESS_REFUSAL_BURST: '100000',
        ...subgraphEnv,
      }),
      logger,
    );
    const coherence = await createCoherenceService(
      readCoherenceConfig({
        COHERENCE_DATABASE_URL: database.urls.coherence,
        NEO4J_URL: endpoints.neo4jBoltUrl,
        ...subgraphEnv,
        ...options.coherenceEnv,
      }),
      logger,
    );
    const comms = await createCommsService(
      readCommsConfig({ COMMS_DATABASE_URL: database.urls.comms, COMMS_ADMIN_DATABASE_URL: database.urls.commsAdmin, ...subgraphEnv }),
      logger,
    );
    for (const app of [ingest.app, ingest.subgraph, ingest.admin, coherence.app, coherence.admin, comms.app, comms.inbound, comms.admin])
      await app.listen({ port: 0, host: '127.0.0.1' });

    const gateway = await createGateway(
      readGatewayConfig({
        SUBGRAPH_INGEST_URL: urlOf(ingest.subgraph, '/graphql'),
        SUBGRAPH_COHERENCE_URL: urlOf(coherence.app, '/graphql'),
        SUBGRAPH_COMMS_URL: urlOf(comms.app, '/graphql'),
        GATEWAY_DATABASE_URL: database.urls.gateway,
        GATEWAY_REGION: 'us',
        GATEWAY_JWKS: keys.jwksPath,
        GATEWAY_TOKEN_ISSUERS: DEV_ISSUER,
        GATEWAY_INTERNAL_SIGNING_KEY: internalKeys.privateKeyPath,
        // Tests read decision rows right after a request; a short interval keeps that wait small.
        GATEWAY_DECISION_FLUSH_MS: '20',
        GATEWAY_REDIS_URL: endpoints.redisUrl,
        GATEWAY_REDIS_KEY_PREFIX: `${database.namespace}:gateway:`,
        COHERENCE_CHANGED_CHANNEL: `${database.namespace}:coherence.changed`,
        // Tests read right after writing and expect what they wrote; cache tests turn it on (gatewayEnv).
        GATEWAY_CACHE_ENABLED: 'false',
        // Every request still passes the limiter, but only limiter tests (gatewayEnv) set a rate a test can reach.
        GATEWAY_RATE_PER_SECOND: '100000',
        // Tests send refusals by the hundred from one address; the throttle's own test (gatewayEnv) sets a burst it reaches.
        GATEWAY_ADDRESS_REFUSAL_BURST: '100000',
        ...options.gatewayEnv,
      }),
      logger,
    );
    for (const app of [gateway.app, gateway.admin]) await app.listen({ port: 0, host: '127.0.0.1' });
    return { ingest, coherence, comms, gateway };
  };
  const instances: Awaited<ReturnType<typeof startInstance>>[] = [];
  for (let i = 0; i < (options.instances ?? 1); i += 1) instances.push(await startInstance());
  const { ingest, coherence, comms, gateway } = instances[0]!;

  const driver = createNeo4jDriver(endpoints.neo4jBoltUrl);
  await ensureGraphSchema(driver);
  const relayPool = createPgPool(database.urls.relay);
  const relay = createOutboxRelay({ pool: relayPool, driver, logger, windowHours: 24 });
  const adminPool = createPgPool(database.adminUrl, { max: 2 });
  const mintToken = (claims: TestTokenClaims) => mintDevToken(keys.privateKeyPath, { sub: 'test-user', residency: ['us'], ...claims });
  /** Registers a tenant (the gateway and ingest refuse unregistered ones); a tenant already there keeps its row. */
  const registerTenant = async (tenantId: string, residency = 'us') => {
    await adminPool.query('INSERT INTO tenants (tenant_id, residency) VALUES ($1, $2) ON CONFLICT (tenant_id) DO NOTHING', [
      tenantId,
      residency,
    ]);
  };

  return {
    ingestUrl: urlOf(ingest.app),
    /** The subgraphs' /graphql URLs, for a gateway started as its own process. */
    subgraphUrls: {
      SUBGRAPH_INGEST_URL: urlOf(ingest.subgraph, '/graphql'),
      SUBGRAPH_COHERENCE_URL: urlOf(coherence.app, '/graphql'),
      SUBGRAPH_COMMS_URL: urlOf(comms.app, '/graphql'),
    },
    gatewayUrl: urlOf(gateway.app),
    /** Every public or internal service listener: none answers /readyz or /metrics. */
    serviceUrls: {
      gateway: urlOf(gateway.app),
      ingest: urlOf(ingest.app),
      ingestSubgraph: urlOf(ingest.subgraph),
      coherence: urlOf(coherence.app),
      comms: urlOf(comms.app),
      commsInbound: urlOf(comms.inbound),
    },
    /** Each process's admin listener: /healthz, /readyz, /metrics (docs/adr/0016-admin-listeners.md). */
    adminUrls: {
      gateway: urlOf(gateway.admin),
      ingest: urlOf(ingest.admin),
      coherence: urlOf(coherence.admin),
      comms: urlOf(comms.admin),
    },
    gateway,
    ingest,
    /** Every instance's gateway and ingest, the first's included. */
    instances: instances.map((instance) => ({
      gatewayUrl: urlOf(instance.gateway.app),
      ingestUrl: urlOf(instance.ingest.app),
      gateway: instance.gateway,
      ingest: instance.ingest,
    })),
    relay,
    driver,
    /** The key set ingest and the gateway verify tokens against (for endpoints a test starts itself). */
    jwksPath: keys.jwksPath,
    /** The folder of the dev key pair the gateway trusts, for a minter of its own (the Workbench's dev sign-in). */
    keysDir: keyDir,
    /** The gateway's internal key pair: the private JWK it signs subgraph calls with, the JWKS the subgraphs trust. */
    internalKeys,
    /** A token the gateway trusts. */
    mintToken,
    registerTenant,
    /** Registers `tenantId` in the gateway's region and returns headers of a token that may read it (coherence:read:self). */
    async readHeaders(tenantId: string): Promise<Record<string, string>> {
      await registerTenant(tenantId);
      return { authorization: `Bearer ${await mintToken({ tenant: tenantId, scopes: ['coherence:read:self'] })}` };
    },
    /** Registers `tenantId` in ingest's region (its write policy refuses unregistered ones) and returns headers of a token that may write its signals (coherence:write:self). */
    async writeHeaders(tenantId: string): Promise<Record<string, string>> {
      await registerTenant(tenantId);
      return { authorization: `Bearer ${await mintToken({ tenant: tenantId, scopes: ['coherence:write:self'] })}` };
    },
    async stop() {
      await relay.stop();
      for (const instance of instances) {
        await instance.gateway.close();
        await Promise.all([instance.ingest.close(), instance.coherence.close(), instance.comms.close()]);
      }
      await Promise.all([relayPool.end(), adminPool.end()]);
      await driver.close();
      rmSync(keyDir, { recursive: true, force: true });
    },
  };
}
