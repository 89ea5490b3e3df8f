/**
 * A baseline gateway as a process of its own, for `bench:gateway`: the
 * supergraph as given, default settings, no plugins, no auth, query text.
 * The one thing it adds is what any gateway in front of these subgraphs
 * must: an internal token per subgraph (ADR 0011), for the tenant read: the
 * one of `--tenant`, or the one a request names in `x-bench-tenant` (the
 * bench's load spread over many tenants). Unlike this project's gateway it
 * does not mint one per call: a token per subgraph and tenant is reused and
 * renewed after 10 s, which spares the baselines most signatures (the
 * comparison leans their way).
 *
 *   tsx scripts/bench/support/baselineGateway.ts --kind apollo|hive --supergraph PATH --port N --internal-key PATH --tenant ID
 *
 * `apollo` is `@apollo/gateway` in `@apollo/server`'s standalone server;
 * `hive` is Hive Gateway's runtime (`createGatewayRuntime`) on a node:http
 * server. The subgraph URLs are the ones in the supergraph file. Prints one
 * JSON line with its URL once listening; stops on SIGTERM.
 */
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { createInternalTokenSigner } from '@coherence/auth';
import { INTERNAL_TOKEN_HEADER } from '@coherence/contracts';
import { createGatewayRuntime } from '@graphql-hive/gateway';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { usageError, parseScriptArgs } from '../../commandLine';

const usage =
  'usage: tsx scripts/bench/support/baselineGateway.ts --kind apollo|hive --supergraph PATH --port N --internal-key PATH --tenant ID';
const values = parseScriptArgs(usage, {
  kind: { type: 'string' },
  supergraph: { type: 'string' },
  port: { type: 'string' },
  'internal-key': { type: 'string' },
  tenant: { type: 'string' },
});
const port = Number(values.port);
const { 'internal-key': internalKey, tenant } = values;
if (
  (values.kind !== 'apollo' && values.kind !== 'hive') ||
  !values.supergraph ||
  !Number.isInteger(port) ||
  port <= 0 ||
  !internalKey ||
  !tenant
)
  usageError(usage);
const supergraphSdl = readFileSync(values.supergraph, 'utf8');
const benchTenant: string = tenant;

/** Renewed well inside the 30 s a minted token lives. */
const TOKEN_RENEW_MS = 10_000;
/** The header by which the bench's spread load names the tenant a request reads (the baselines know no tokens). */
const TENANT_HEADER = 'x-bench-tenant';
const signer = await createInternalTokenSigner(internalKey);
const tokens = new Map<string, { token: string; mintedAt: number }>();
function internalTokenOf(subgraph: string, tenant: string | null | undefined): string {
  const tenantId = tenant ?? benchTenant;
  const key = `${subgraph} ${tenantId}`;
  const held = tokens.get(key);
  if (held !== undefined && Date.now() - held.mintedAt < TOKEN_RENEW_MS) return held.token;
  const token = signer.mint(subgraph, {
    subject: 'bench',
    scopes: ['coherence:read:self'],
    tenantIds: [tenantId],
    region: 'us',
    requestId: randomUUID(),
  });
  tokens.set(key, { token, mintedAt: Date.now() });
  return token;
}

async function startApollo(): Promise<() => Promise<void>> {
  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ name, url }) =>
      new RemoteGraphQLDataSource({
        ...(url === undefined ? {} : { url }),
        willSendRequest: (options) => {
          const tenant =
            'incomingRequestContext' in options ? options.incomingRequestContext.request.http?.headers.get(TENANT_HEADER) : undefined;
          options.request.http?.headers.set(INTERNAL_TOKEN_HEADER, internalTokenOf(name, tenant));
        },
      }),
  });
  const server = new ApolloServer({ gateway });
  await startStandaloneServer(server, { listen: { port, host: '127.0.0.1' } });
  return () => server.stop();
}

async function startHive(): Promise<() => Promise<void>> {
  const runtime = createGatewayRuntime({
    supergraph: supergraphSdl,
    logging: false,
    propagateHeaders: {
      fromClientToSubgraphs: ({ request, subgraphName }) => ({
        [INTERNAL_TOKEN_HEADER]: internalTokenOf(subgraphName, request.headers.get(TENANT_HEADER)),
      }),
    },
  });
  const server = createServer(runtime);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await runtime.dispose();
  };
}

const stop = values.kind === 'apollo' ? await startApollo() : await startHive();
console.log(JSON.stringify({ url: `http://127.0.0.1:${port}/graphql` }));
process.once('SIGTERM', () => void stop().then(() => process.exit(0)));
