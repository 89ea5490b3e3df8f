import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { startApplication } from './support/startApplication';
import { createClient, type Client } from 'graphql-ws';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, expect, inject, it } from 'vitest';
import WebSocket from 'ws';

/**
 * The graphql-ws endpoint holds under abuse (issue 13, items 2 and 3): a
 * frame over the body limit is refused unread, a socket must authenticate in
 * time, sockets are capped per address and per tenant, subscriptions per
 * socket and per tenant, every subscribe spends the limiter's share, and an
 * expired token ends the connection. The caps are small here so a test can
 * reach them; each test that counts sockets per address connects from its
 * own loopback address (all of 127.0.0.0/8 reaches the gateway).
 */
const subscriptionId = manifest.operations.findLast((op) => op.name === 'CoherenceEvents')!.id;
const readId = manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id;

const INIT_TIMEOUT_MS = 1_000;
const MAX_PER_ADDRESS = 4;

let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
const clients: Client[] = [];
const sockets: WebSocket[] = [];

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  app = await startApplication(services, database, {
    gatewayEnv: {
      GATEWAY_WS_INIT_TIMEOUT_MS: String(INIT_TIMEOUT_MS),
      GATEWAY_WS_MAX_CONNECTIONS_PER_ADDRESS: String(MAX_PER_ADDRESS),
      GATEWAY_WS_MAX_CONNECTIONS_PER_TENANT: '2',
      GATEWAY_WS_MAX_SUBSCRIPTIONS_PER_SOCKET: '2',
      GATEWAY_WS_MAX_SUBSCRIPTIONS_PER_TENANT: '3',
      // Three requests at once per tenant, then one a second: enough for every test's subscribes, and reachable over HTTP.
      GATEWAY_RATE_PER_SECOND: '1',
      GATEWAY_RATE_BURST_SECONDS: '3',
      // Shares stay as configured however loaded the machine is: a shrunk share would refuse the subscribes the caps tests expect.
      GATEWAY_SATURATION_IN_FLIGHT: '100000',
      GATEWAY_SATURATION_LOOP_DELAY_MS: '100000',
    },
  });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.dispose()));
  for (const socket of sockets.splice(0)) socket.terminate();
});

afterAll(async () => {
  await app?.stop();
  await database?.drop();
});

const wsUrl = () => `${app.gatewayUrl.replace('http', 'ws')}/graphql`;

/** A registered tenant of this test and a token that may follow it. */
async function tenantWithToken(name: string, ttlSeconds?: number) {
  const tenantId = `${database.namespace}-${name}`;
  await app.registerTenant(tenantId);
  const token = await app.mintToken({ tenant: tenantId, scopes: ['coherence:read:self'], ...(ttlSeconds ? { ttlSeconds } : {}) });
  return { tenantId, token };
}

/** A raw graphql-transport-ws socket, for what a graphql-ws client would never send. */
function rawSocket(localAddress = '127.0.0.1'): WebSocket {
  const socket = new WebSocket(wsUrl(), 'graphql-transport-ws', { localAddress });
  // A refused handshake, or terminate() while connecting, is reported here; the tests read close codes and responses instead.
  socket.on('error', () => undefined);
  sockets.push(socket);
  return socket;
}

/** How a raw socket's handshake ended: `open`, or the HTTP status that refused it. */
const handshakeOf = (socket: WebSocket) =>
  Promise.race([
    once(socket, 'open').then(() => 'open'),
    once(socket, 'unexpected-response').then(([, response]) => `refused ${(response as IncomingMessage).statusCode}`),
  ]);

const closeOf = (socket: WebSocket) =>
  new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );

/** A graphql-ws client, connected (acknowledged) or refused with the close event. */
async function connect(token: string): Promise<Client> {
  let client: Client | undefined;
  await new Promise<void>((resolve, reject) => {
    client = createClient({
      url: wsUrl(),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      lazy: false,
      // The test reads a refusal from `closed`; graphql-ws would also print it.
      onNonLazyError: () => undefined,
      on: { connected: () => resolve(), closed: (event) => reject(event as Error) },
    });
    clients.push(client);
  });
  return client!;
}

const subscribe = (client: Client, tenantId: string) =>
  client.iterate({ query: '', variables: { tenantId }, extensions: { persistedQuery: { version: 1, sha256Hash: subscriptionId } } });

/** The first thing a subscription gets within `ms`: a refusal's code, the close that ended it, or `open` (admitted, waiting for events). */
async function outcomeOf(events: AsyncIterator<unknown>, ms = 1_000): Promise<string> {
  const timeout = sleep(ms).then(() => 'open');
  const first = events.next().then(
    () => 'event',
    (error: unknown) =>
      Array.isArray(error)
        ? ((error[0] as { extensions: { code: string; limit?: string } }).extensions.limit ??
          (error[0] as { extensions: { code: string } }).extensions.code)
        : `close ${(error as { code: number }).code} ${(error as { reason: string }).reason}`,
  );
  return Promise.race([first, timeout]);
}

it('closes a socket whose frame is over the body limit (1009) before reading it as a connection_init', async () => {
  const socket = rawSocket();
  await once(socket, 'open');
  const closed = closeOf(socket);
  // 2 MiB: a valid connection_init without a token, so a parsed frame would be refused as UNAUTHENTICATED (4403) instead.
  socket.send(JSON.stringify({ type: 'connection_init', payload: { padding: 'x'.repeat(2 * 1_048_576) } }));
  expect((await closed).code).toBe(1009);
});

it('closes a socket that does not authenticate within GATEWAY_WS_INIT_TIMEOUT_MS (4408)', async () => {
  const socket = rawSocket();
  await once(socket, 'open');
  const openedAt = Date.now();
  const { code } = await closeOf(socket);
  expect(code).toBe(4408);
  expect(Date.now() - openedAt).toBeLessThan(INIT_TIMEOUT_MS + 1_000);
});

it('refuses a socket over the per-address cap with 429 before the upgrade, and takes one again once a slot is free', async () => {
  const address = '127.0.0.9';
  const open = Array.from({ length: MAX_PER_ADDRESS }, () => rawSocket(address));
  await Promise.all(open.map((socket) => once(socket, 'open')));
  expect(await handshakeOf(rawSocket(address))).toBe('refused 429');
  // Another address is not affected.
  await once(rawSocket('127.0.0.10'), 'open');
  const closed = closeOf(open[0]!);
  open[0]!.close();
  await closed;
  // The gateway releases the slot when its side of the socket closes: a moment after the client sees the close.
  await expect.poll(() => handshakeOf(rawSocket(address))).toBe('open');
});

it('closes a socket over the per-tenant cap with 4429 RATE_LIMITED once its token is known', async () => {
  const { token } = await tenantWithToken('connections');
  await connect(token);
  await connect(token);
  await expect(connect(token)).rejects.toMatchObject({ code: 4429, reason: 'RATE_LIMITED' });
});

it('refuses a subscribe over the cap of live subscriptions on one socket', async () => {
  const { tenantId, token } = await tenantWithToken('per-socket');
  const client = await connect(token);
  const subscriptions = [subscribe(client, tenantId), subscribe(client, tenantId), subscribe(client, tenantId)];
  // Awaited together: graphql-ws's iterate() loses an error that arrives before its first next().
  expect(await Promise.all(subscriptions.map((events) => outcomeOf(events)))).toEqual(['open', 'open', 'subscriptions-per-socket']);
  // A completed subscription frees its slot.
  await subscriptions[0]!.return!();
  await expect.poll(() => outcomeOf(subscribe(client, tenantId), 300)).toBe('open');
});

it('refuses a subscribe over the cap of live subscriptions of one tenant, over all its sockets', async () => {
  const { tenantId, token } = await tenantWithToken('per-tenant');
  const [first, second] = [await connect(token), await connect(token)];
  const admitted = [subscribe(first, tenantId), subscribe(first, tenantId), subscribe(second, tenantId)];
  expect(await Promise.all(admitted.map((events) => outcomeOf(events)))).toEqual(['open', 'open', 'open']);
  expect(await outcomeOf(subscribe(second, tenantId))).toBe('subscriptions-per-tenant');
});

it('charges the limiter for a subscribe: over the tenant’s share it is RATE_LIMITED', async () => {
  const { tenantId, token } = await tenantWithToken('limiter');
  // Spend the tenant's share over HTTP; the subscribe draws on the same one.
  const read = () =>
    fetch(`${app.gatewayUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: readId } }, variables: { tenantId } }),
    });
  // Three reads spend the burst; on a loaded machine they may take longer than the poll's default second.
  await expect.poll(async () => (await read()).status, { timeout: 15_000 }).toBe(429);
  expect(await outcomeOf(subscribe(await connect(token), tenantId))).toBe('RATE_LIMITED');
});

it('closes the socket with 4401 when the token expires', async () => {
  const { tenantId, token } = await tenantWithToken('expiry', 2);
  const events = subscribe(await connect(token), tenantId);
  expect(await outcomeOf(events, 5_000)).toBe('close 4401 UNAUTHENTICATED');
});
