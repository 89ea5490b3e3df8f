import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createPgPool, type PgPool } from '@coherence/platform';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { startApplication } from './support/startApplication';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';

/**
 * A flood of refusals from one address (issue 13, item 6): past a burst the
 * address is answered 429 before authentication, over HTTP and WebSocket
 * alike, and what it earned is audited as a few aggregated AUTH_DENY rows
 * (with a count), not one write per request.
 */
const BURST = 100;
const tenantCoherence = manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id;

let database: TestDatabase;
let adminPool: PgPool;
let app: Awaited<ReturnType<typeof startApplication>>;

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  adminPool = createPgPool(database.adminUrl);
  app = await startApplication(services, database, {
    gatewayEnv: {
      GATEWAY_ADDRESS_REFUSAL_BURST: String(BURST),
      GATEWAY_ADDRESS_REFUSALS_PER_SECOND: '0.2',
      // Written once a second (the test kit's default is 20 ms): a flood aggregates between two writes.
      GATEWAY_DECISION_FLUSH_MS: '1000',
    },
  });
});

afterAll(async () => {
  await app?.stop();
  await adminPool?.end();
  await database?.drop();
});

/** A read with a token signed by a key the gateway does not know. */
async function forgedRead(): Promise<{ status: number; code: string; retryAfter: string | null }> {
  const response = await fetch(`${app.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln' },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: tenantCoherence } }, variables: { tenantId: 'acme' } }),
  });
  const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
  return { status: response.status, code: body.errors[0]!.extensions.code, retryAfter: response.headers.get('retry-after') };
}

describe('a flood of refusals from one address', () => {
  it('is throttled before authentication past the burst, and audited as aggregated rows', async () => {
    const answers = [];
    // In waves of 20 at once, as a flooding client would send them.
    for (let wave = 0; wave < 15; wave += 1) answers.push(...(await Promise.all(Array.from({ length: 20 }, forgedRead))));
    const throttled = answers.filter((answer) => answer.status === 429);
    const denied = answers.filter((answer) => answer.status === 401).length;
    // A request is let in before the refusals in flight are charged, so one wave may overshoot the burst (more often on a busy machine).
    expect(denied).toBeGreaterThanOrEqual(BURST);
    expect(denied).toBeLessThanOrEqual(BURST + 20);
    expect(throttled).toHaveLength(300 - denied);
    expect(throttled.every((answer) => answer.code === 'RATE_LIMITED' && Number(answer.retryAfter) >= 1)).toBe(true);

    await app.gateway.flushSecurityEvents();
    const { rows } = await adminPool.query<{ rows: number; denials: number }>(
      `SELECT count(*)::int AS rows, sum(coalesce((details->>'count')::int, 1))::int AS denials
         FROM security_events WHERE kind = 'AUTH_DENY' AND tenant_id = '-' AND service = 'gateway'`,
    );
    // Only what got through to authentication was audited: the first 20 of the minute as rows of their own, the rest as rows with a count.
    expect(rows[0]!.denials).toBe(denied);
    expect(rows[0]!.rows).toBeGreaterThan(20);
    expect(rows[0]!.rows).toBeLessThanOrEqual(25);
  });

  it('is refused on a new WebSocket connection with the same code, before its token is verified', async () => {
    const socket = new WebSocket(`${app.gatewayUrl.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(
      JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${await app.mintToken({ tenant: 'x', scopes: [] })}` } }),
    );
    const [code, reason] = await new Promise<[number, string]>((resolve) =>
      socket.once('close', (closeCode, closeReason) => resolve([closeCode, closeReason.toString()])),
    );
    expect([code, reason]).toEqual([4429, 'RATE_LIMITED']);
  });
});
