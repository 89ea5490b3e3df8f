import { configFields, loadConfig } from '@coherence/platform';
import { manifestPath } from '@coherence/persisted-queries';
import { z } from 'zod';
import { supergraphPath } from './supergraph/subgraphs';

const schema = z.object({
  GATEWAY_PORT: configFields.port(4000),
  GATEWAY_HOST: configFields.host(),
  SUBGRAPH_COHERENCE_URL: configFields.url().default('http://127.0.0.1:4002/graphql'),
  SUBGRAPH_INGEST_URL: configFields.url().default('http://127.0.0.1:4001/graphql'),
  SUBGRAPH_COMMS_URL: configFields.url().default('http://127.0.0.1:4003/graphql'),
  GATEWAY_SUPERGRAPH_PATH: z.string().min(1).default(supergraphPath),
  GATEWAY_MANIFEST_PATH: z.string().min(1).default(manifestPath),
  GATEWAY_BODY_LIMIT_BYTES: configFields.positiveInt(65_536),
  LOG_LEVEL: configFields.logLevel(),
});

export type GatewayConfig = ReturnType<typeof readGatewayConfig>;

export function readGatewayConfig(env?: Record<string, string | undefined>) {
  return loadConfig('gateway', schema, env);
}
