/**
 * A baseline gateway as a process of its own, for `bench:gateway`: the
 * supergraph as given, default settings, no plugins, no auth, query text.
 *
 *   tsx scripts/bench/support/baselineGateway.ts --kind apollo|hive --supergraph PATH --port N
 *
 * `apollo` is `@apollo/gateway` in `@apollo/server`'s standalone server;
 * `hive` is Hive Gateway's runtime (`createGatewayRuntime`) on a node:http
 * server. The subgraph URLs are the ones in the supergraph file. Prints one
 * JSON line with its URL once listening; stops on SIGTERM.
 */
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { createGatewayRuntime } from '@graphql-hive/gateway';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { exitWithUsage, parseScriptArgs } from './cli';

const usage = 'usage: tsx scripts/bench/support/baselineGateway.ts --kind apollo|hive --supergraph PATH --port N';
const values = parseScriptArgs(usage, {
  kind: { type: 'string' },
  supergraph: { type: 'string' },
  port: { type: 'string' },
});
const port = Number(values.port);
if ((values.kind !== 'apollo' && values.kind !== 'hive') || !values.supergraph || !Number.isInteger(port) || port <= 0)
  exitWithUsage(usage);
const supergraphSdl = readFileSync(values.supergraph, 'utf8');

async function startApollo(): Promise<() => Promise<void>> {
  const server = new ApolloServer({ gateway: new ApolloGateway({ supergraphSdl }) });
  await startStandaloneServer(server, { listen: { port, host: '127.0.0.1' } });
  return () => server.stop();
}

async function startHive(): Promise<() => Promise<void>> {
  const runtime = createGatewayRuntime({ supergraph: supergraphSdl, logging: false });
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
