import { ensureDevKeys, mintDevToken } from '@coherence/auth';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createPgPool } from '@coherence/platform';
import { coherenceChangedFor } from '@coherence/testkit';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { startApplication } from './support/startApplication';
import { createClient, type Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import WebSocket from 'ws';

/**
 * Issue 13, item 3: a new subscribe re-verifies the socket's token. The
 * token is made to stop verifying by a real key rotation, not by its expiry
 * (the gateway also closes a socket at expiry on its own timer, which would
 * hide whether the subscribe checked anything): the key that signed it is
 * rotated out of the gateway's JWKS file, and the gateway re-reads that file
 * when a token signed with the new key arrives. The socket's token lives an
 * hour, so only re-verification can end the connection here.
 */
const subscriptionId = manifest.operations.findLast((op) => op.name === 'CoherenceEvents')!.id;
const readId = manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id;

let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
let publisher: Redis;
let rotatedKeyDir: string;
const clients: Client[] = [];

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  app = await startApplication(services, database);
  publisher = new Redis(services.redisUrl);
  rotatedKeyDir = mkdtempSync(join(tmpdir(), 'coherence-rotated-keys-'));
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.dispose()));
  publisher?.disconnect();
  await app?.stop();
  await database?.drop();
  if (rotatedKeyDir) rmSync(rotatedKeyDir, { recursive: true, force: true });
});

/** The channel startApplication gives the gateway's subscription hub. */
const channel = () => `${database.namespace}:coherence.changed`;

/** A graphql-ws client, acknowledged; `closes` collects how its socket closed. */
async function connect(token: string) {
  const closes: { code: number; reason: string }[] = [];
  let client: Client | undefined;
  await new Promise<void>((resolve, reject) => {
    client = createClient({
      url: `${app.gatewayUrl.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => undefined,
      on: {
        connected: () => resolve(),
        closed: (event) => {
          const { code, reason } = event as { code: number; reason: string };
          closes.push({ code, reason });
          reject(event as Error);
        },
      },
    });
    clients.push(client);
  });
  return { client: client!, closes };
}

const subscribe = (client: Client, tenantId: string) =>
  client.iterate<{ coherenceEvents: { tenantId: string; score: number | null } }>({
    query: '',
    variables: { tenantId },
    extensions: { persistedQuery: { version: 1, sha256Hash: subscriptionId } },
  });

/** How a pending `next()` ended within 5 s: the event's score, a refusal's code, the close that ended it, or `nothing`. */
const outcome = (next: Promise<IteratorResult<{ data?: { coherenceEvents: { score: number | null } } | null }>>) =>
  Promise.race([
    next.then(
      (result) => (result.done ? 'done' : `event ${result.value.data?.coherenceEvents.score}`),
      (error: unknown) =>
        Array.isArray(error)
          ? (error[0] as { extensions: { code: string } }).extensions.code
          : `close ${(error as { code: number }).code} ${(error as { reason: string }).reason}`,
    ),
    sleep(5_000).then(() => 'nothing'),
  ]);

/** Publishes a score change of `tenantId` on the channel the gateway's hub listens to. */
const publish = (tenantId: string, score: number) => publisher.publish(channel(), JSON.stringify(coherenceChangedFor({ tenantId, score })));

/** `subscription_active` of the gateway: subscriptions admitted and registered with its hub. */
async function activeSubscriptions(): Promise<number> {
  const text = await (await fetch(`${app.adminUrls.gateway}/metrics`)).text();
  return Number(/^subscription_active (\d+)$/m.exec(text)?.[1] ?? NaN);
}

async function readOverHttp(token: string, tenantId: string) {
  const response = await fetch(`${app.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: readId } }, variables: { tenantId } }),
  });
  return { status: response.status, body: (await response.json()) as { errors?: { extensions: { code: string } }[] } };
}

it('refuses a new subscribe once the socket’s token no longer verifies (key rotated out), and closes the socket 4401', async () => {
  const tenantId = `${database.namespace}-rotation`;
  await app.registerTenant(tenantId);
  const claims = { sub: 'test-user', tenant: tenantId, scopes: ['coherence:read:self'], residency: ['us'] };
  const oldToken = await app.mintToken({ tenant: tenantId, scopes: claims.scopes, ttlSeconds: 3_600 });

  // Connected, and a first subscribe (itself re-verified) admitted: it receives a change.
  const { client, closes } = await connect(oldToken);
  const first = subscribe(client, tenantId);
  const firstEvent = outcome(first.next());
  await expect.poll(activeSubscriptions).toBe(1);
  await publish(tenantId, 0.25);
  expect(await firstEvent).toBe('event 0.25');

  // Rotate: the gateway's JWKS file now holds only a new key. A token signed with it names a kid the gateway does not
  // know, so the gateway re-reads the file (no restart) and answers it; from then on the old key is gone.
  const rotated = await ensureDevKeys(rotatedKeyDir);
  writeFileSync(app.jwksPath, readFileSync(rotated.jwksPath));
  const newToken = await mintDevToken(rotated.privateKeyPath, claims);
  const read = await readOverHttp(newToken, tenantId);
  expect(read.status).toBe(200);
  expect(read.body.errors).toBeUndefined();

  // Rotation alone ends nothing: the open subscription still streams (nothing re-checks the socket until a subscribe).
  const secondEvent = outcome(first.next());
  await publish(tenantId, 0.5);
  expect(await secondEvent).toBe('event 0.5');
  expect(closes).toEqual([]);

  // A new subscribe on the same socket re-verifies the old token: refused, and the whole connection is closed 4401.
  const pendingOnFirst = outcome(first.next());
  const second = subscribe(client, tenantId);
  expect(await outcome(second.next())).toBe('close 4401 UNAUTHENTICATED');
  expect(await pendingOnFirst).toBe('close 4401 UNAUTHENTICATED');
  expect(closes).toEqual([{ code: 4401, reason: 'UNAUTHENTICATED' }]);

  // The refusal is the key's, not the clock's: the gateway audited it as a signature no trusted key verifies.
  await app.gateway.flushSecurityEvents();
  const admin = createPgPool(database.adminUrl);
  try {
    const { rows } = await admin.query<{ reason: string; service: string }>(
      `SELECT reason, service FROM security_events WHERE kind = 'AUTH_DENY'`,
    );
    expect(rows).toEqual([{ reason: 'TOKEN_SIGNATURE_INVALID', service: 'gateway' }]);
  } finally {
    await admin.end();
  }
});
