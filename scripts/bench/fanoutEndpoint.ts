import { apiSchemaFromSupergraph } from '@coherence/persisted-queries';
import { createTokenVerifier, DEV_ISSUER } from '@coherence/auth';
import { supergraphPath } from '@coherence/gateway';
import { attachCoherenceSubscriptions, createPersistedOperations, readSubscriptionConfig } from '@coherence/gateway/subscriptions';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createServiceApp, type Logger } from '@coherence/platform';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';

export interface FanoutEndpointOptions {
  redisUrl: string;
  channel: string;
  /** The dev key set tokens are verified against. */
  jwksPath: string;
  logger: Logger;
}

/**
 * The gateway's `coherenceEvents` endpoint on its own: the same module the
 * gateway attaches, over the checked-in supergraph and manifest, without
 * the HTTP pipeline (no subgraphs, no policy bundle: scopes are checked by
 * the endpoint's fallback). For the fan-out benchmark and its end-to-end test.
 */
export async function startFanoutEndpoint(options: FanoutEndpointOptions) {
  const apiSchema = apiSchemaFromSupergraph(await readFile(supergraphPath, 'utf8'));
  const operations = createPersistedOperations(manifest, apiSchema);
  const { app, metrics } = createServiceApp({ logger: options.logger, readinessChecks: [] });
  attachCoherenceSubscriptions(app, {
    logger: options.logger,
    metrics,
    apiSchema,
    operations: () => operations,
    verifyToken: await createTokenVerifier({ jwks: options.jwksPath, issuers: [DEV_ISSUER] }),
    config: readSubscriptionConfig({ GATEWAY_REDIS_URL: options.redisUrl, COHERENCE_CHANGED_CHANNEL: options.channel }),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return {
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    metricsUrl: `http://127.0.0.1:${port}/metrics`,
    close: () => app.close(),
  };
}
