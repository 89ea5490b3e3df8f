import { apiSchemaFromSupergraph } from '@coherence/persisted-queries';
import { createTokenVerifier, devArtifactPublicKeyPath, DEV_ISSUER, readArtifactPublicKey } from '@coherence/auth';
import { supergraphPath } from '@coherence/gateway';
import {
  attachCoherenceSubscriptions,
  createAuthorizer,
  createOriginAllowList,
  createPersistedOperations,
  createSecurityMetrics,
  readSubscriptionConfig,
  useAuthentication,
  usePersistedOperation,
  usePolicy,
  useTenant,
  type TenantSource,
} from '@coherence/gateway/subscriptions';
import costs from '@coherence/persisted-queries/costs.json' with { type: 'json' };
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createAdminApp, createServiceApp, type Logger } from '@coherence/platform';
import { createPolicyEngine, policyBundleDir } from '@coherence/policy';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';

export interface FanoutEndpointOptions {
  redisUrl: string;
  channel: string;
  /** The dev key set tokens are verified against. */
  jwksPath: string;
  logger: Logger;
}

/** The endpoint's region: the dev tokens' default residency. */
const REGION = 'us';

/** Far above any `--subscribers` the benchmark is run with. */
const BENCH_CAP = 1_000_000;

/** No `tenants` table here: every tenant counts as registered in the endpoint's region, so only scopes and tenant matter. */
const everyTenantLocal: TenantSource = {
  recordsOf: async (tenantIds) =>
    new Map(tenantIds.map((tenantId) => [tenantId, { residency: REGION, weight: 1, cacheTtlSeconds: null, suspended: false }])),
};

/**
 * The gateway's `coherenceEvents` endpoint on its own: the same module and
 * the same steps the gateway attaches (the real policy bundle decides), over
 * the checked-in supergraph and manifest, without subgraphs, Postgres or an
 * audit. For the fan-out benchmark and its end-to-end test.
 */
export async function startFanoutEndpoint(options: FanoutEndpointOptions) {
  const apiSchema = apiSchemaFromSupergraph(await readFile(supergraphPath, 'utf8'));
  const operations = createPersistedOperations(manifest, costs, apiSchema);
  const admin = createAdminApp({ logger: options.logger, readinessChecks: [] });
  const { metrics } = admin;
  const { app } = createServiceApp({ logger: options.logger, admin });
  const policy = createPolicyEngine({
    logger: options.logger,
    publicKey: readArtifactPublicKey(devArtifactPublicKeyPath),
    allowRollback: false,
  });
  const activated = await policy.activate(policyBundleDir);
  if (!activated.ok) throw new Error(`the policy bundle was refused: ${activated.error}`);
  const securityMetrics = createSecurityMetrics(metrics);
  const authorize = createAuthorizer({ policy, metrics: securityMetrics, region: REGION, pausedScopes: [] });
  attachCoherenceSubscriptions(app, {
    logger: options.logger,
    metrics,
    apiSchema,
    connectSteps: [useAuthentication({ verifyToken: await createTokenVerifier({ jwks: options.jwksPath, issuers: [DEV_ISSUER] }) })],
    subscribeSteps: [
      usePersistedOperation({ operations: () => operations, transport: 'graphql-ws' }),
      useTenant({ tenants: everyTenantLocal }),
      usePolicy({ authorize, metrics: securityMetrics }),
    ],
    // Node subscribers send no Origin: no browser origin is needed.
    origins: createOriginAllowList([]),
    config: readSubscriptionConfig({
      GATEWAY_REDIS_URL: options.redisUrl,
      COHERENCE_CHANGED_CHANNEL: options.channel,
      // Every benchmark subscriber connects from this host, a hundred or more per tenant: the caps are out of the way.
      GATEWAY_WS_MAX_CONNECTIONS_PER_ADDRESS: String(BENCH_CAP),
      GATEWAY_WS_MAX_CONNECTIONS_PER_TENANT: String(BENCH_CAP),
      GATEWAY_WS_MAX_SUBSCRIPTIONS_PER_TENANT: String(BENCH_CAP),
    }),
  });
  for (const listener of [app, admin.app]) await listener.listen({ port: 0, host: '127.0.0.1' });
  const portOf = (listener: typeof app) => (listener.server.address() as AddressInfo).port;
  return {
    wsUrl: `ws://127.0.0.1:${portOf(app)}/graphql`,
    /** On the admin listener, as in the gateway. */
    metricsUrl: `http://127.0.0.1:${portOf(admin.app)}/metrics`,
    close: async () => {
      await app.close();
      await admin.app.close();
    },
  };
}
