/**
 * Fan-out benchmark of `coherenceEvents`: `npm run bench:fanout [-- --subscribers 1000 --tenants 10 --rounds 20]`.
 *
 * Starts a Redis of its own (loopback, free port) and the gateway's
 * subscription endpoint in a separate process (fanoutServer.ts), connects N graphql-ws clients (spread over the
 * tenants, each with its own tenant's token), then publishes one
 * CoherenceChanged per tenant per round, the way the relay does after a
 * commit. Reports the latency from `changedAt` (the relay's commit) to each
 * client receiving the event — which includes the 100 ms coalescing window —
 * and the server-side `subscription_fanout_latency_seconds` histogram, and the
 * endpoint's resident memory per connection (before the clients against after
 * all subscribed); writes reports/bench-fanout.json.
 */
import { ensureDevKeys, mintDevToken } from '@coherence/auth';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { coherenceChangedFor } from '@coherence/testkit';
import { freePort } from '@coherence/devservices';
import { spawnManaged, waitUntilHealthy, type ManagedProcess } from '@coherence/devservices/managedProcess';
import { readFileSync } from 'node:fs';
import { createClient, type Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { parseNumberArgs } from '../commandLine';
import { processRssBytes } from './support/processUsage';
import { productionNode, watchMachine, writeReport } from './support/report';

const {
  subscribers,
  tenants: tenantCount,
  rounds,
} = parseNumberArgs('usage: npm run bench:fanout -- [--subscribers 1000] [--tenants 10] [--rounds 20]', {
  subscribers: 1000,
  tenants: 10,
  rounds: 20,
});
const machine = watchMachine();
const channel = 'bench:coherence.changed.v1';
const workDir = mkdtempSync(join(tmpdir(), 'bench-fanout-'));
const say = (message: string) => process.stderr.write(`[bench:fanout] ${message}\n`);

const redisPort = await freePort();
const redisLog = join(workDir, 'redis.log');
const redisServer = spawnManaged({
  name: 'redis',
  command: 'redis-server',
  args: ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
  logFile: redisLog,
  cwd: workDir,
});
const redisUrl = `redis://127.0.0.1:${redisPort}`;
const publisher = new Redis(redisUrl, { lazyConnect: true });
const clients: Client[] = [];
let server: ManagedProcess | undefined;

try {
  await waitUntilHealthy('redis', redisLog, () => answersPing(redisUrl), 30_000, redisServer);
  await publisher.connect();
  const keys = await ensureDevKeys(join(workDir, 'keys'));
  const serverLog = join(workDir, 'server.log');
  const node = await productionNode();
  say(`the subscription endpoint runs on Node ${node.version}`);
  server = spawnManaged({
    name: 'fanout-server',
    command: node.binary,
    args: [
      '--import',
      'tsx',
      join(import.meta.dirname, 'fanoutServer.ts'),
      '--redis-url',
      redisUrl,
      '--channel',
      channel,
      '--jwks',
      keys.jwksPath,
    ],
    logFile: serverLog,
  });
  let endpoint: { wsUrl: string; metricsUrl: string } | undefined;
  await waitUntilHealthy(
    'fanout-server',
    serverLog,
    async () => {
      const line = readFileSync(serverLog, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('{"wsUrl"'));
      endpoint = line ? (JSON.parse(line) as { wsUrl: string; metricsUrl: string }) : undefined;
      return endpoint !== undefined;
    },
    60_000,
    server,
  );
  const { wsUrl, metricsUrl } = endpoint!;
  const activeSubscriptions = async () => Number(/^subscription_active (\S+)$/m.exec(await (await fetch(metricsUrl)).text())?.[1] ?? 0);
  const subscriptionId = manifest.operations.findLast((op) => op.name === 'CoherenceEvents')!.id;
  const tenants = Array.from({ length: tenantCount }, (_, i) => `bench-${i}`);
  const tokens = await Promise.all(
    tenants.map((tenant) =>
      mintDevToken(keys.privateKeyPath, { sub: 'bench', tenant, scopes: ['coherence:read:self'], residency: ['us'] }),
    ),
  );

  const latenciesMs: number[] = [];
  const receivedByRound = new Map<number, number>();
  // The endpoint's memory before any client, against after all subscribed: what a connection with its subscription holds.
  const rssBeforeBytes = processRssBytes(server.pid);
  const connectStartedAt = Date.now();
  for (let i = 0; i < subscribers; i += 1) {
    const t = i % tenantCount;
    const client = createClient({
      url: wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${tokens[t]}` },
      retryAttempts: 0,
    });
    clients.push(client);
    client.subscribe<{ coherenceEvents: { score: number; updatedAt: string } }>(
      { query: '', extensions: { persistedQuery: { version: 1, sha256Hash: subscriptionId } }, variables: { tenantId: tenants[t] } },
      {
        next: (result) => {
          const event = result.data!.coherenceEvents;
          // The round and its publish time travel in updatedAt/score, as a real change would carry its own.
          latenciesMs.push(Date.now() - Date.parse(event.updatedAt));
          const round = Math.round(event.score * 1_000);
          receivedByRound.set(round, (receivedByRound.get(round) ?? 0) + 1);
        },
        error: (error) => say(`subscriber error: ${JSON.stringify(error)}`),
        complete: () => undefined,
      },
    );
  }
  for (let active = 0; active < subscribers; active = await activeSubscriptions()) {
    if (Date.now() - connectStartedAt > 60_000) throw new Error(`only ${active} of ${subscribers} subscribed`);
    await sleep(100);
  }
  const connectedMs = Date.now() - connectStartedAt;
  const rssConnectedBytes = processRssBytes(server.pid);
  say(`${subscribers} subscribers over ${tenantCount} tenants connected in ${connectedMs} ms`);

  for (let round = 1; round <= rounds; round += 1) {
    const now = new Date().toISOString();
    const pipeline = publisher.pipeline();
    for (const tenant of tenants)
      pipeline.publish(
        channel,
        JSON.stringify(coherenceChangedFor({ tenantId: tenant, score: round / 1_000, changedAt: now, correlationId: 'bench' })),
      );
    await pipeline.exec();
    const deadline = Date.now() + 10_000;
    while ((receivedByRound.get(round) ?? 0) < subscribers && Date.now() < deadline) await sleep(5);
    // Past the coalescing window, so the next round is its own event.
    await sleep(150);
  }

  const delivered = latenciesMs.length;
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const percentile = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
  const metrics = await (await fetch(metricsUrl)).text();
  const summary = {
    subscribers,
    tenants: tenantCount,
    rounds,
    expectedDeliveries: subscribers * rounds,
    connectedMs,
    endpointMemory: {
      rssBeforeMiB: Number((rssBeforeBytes / 2 ** 20).toFixed(1)),
      rssConnectedMiB: Number((rssConnectedBytes / 2 ** 20).toFixed(1)),
      perConnectionKiB: Number(((rssConnectedBytes - rssBeforeBytes) / 1024 / subscribers).toFixed(1)),
    },
    delivered,
    clientLatencyMs: { p50: percentile(50), p95: percentile(95), p99: percentile(99), max: sorted.at(-1) },
    serverHistogram: Object.fromEntries(
      [...metrics.matchAll(/^subscription_fanout_latency_seconds_(bucket\{le="[^"]+"\}|count|sum) (\S+)$/gm)].map((m) => [
        m[1],
        Number(m[2]),
      ]),
    ),
  };
  console.log(JSON.stringify(summary, null, 2));
  writeReport('bench-fanout.json', { when: new Date().toISOString(), machine: machine.report(), endpointNode: node.version, ...summary });
  say('report: reports/bench-fanout.json');
  if (delivered < subscribers * rounds) process.exitCode = 1;
} finally {
  await Promise.all(clients.map((client) => client.dispose()));
  await server?.stop();
  publisher.disconnect();
  await redisServer.stop();
  rmSync(workDir, { recursive: true, force: true });
}

async function answersPing(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}
