import { createPgPool, type PgPool } from '@coherence/platform';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import {
  createTestDatabase,
  createUnleashAdmin,
  freePort,
  startUnleash,
  unleashClientEnv,
  type RunningUnleash,
  type TestDatabase,
} from '@coherence/devservices';
import { startApplication } from './support/startApplication';
import { createClient, type Client } from 'graphql-ws';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';

/**
 * The `v24.coherence` kill switch over the whole stack, flipped on a real
 * Unleash server through its admin API: off refuses coherence reads (also
 * ones the cache holds) and new coherenceEvents subscriptions with
 * FEATURE_DISABLED while ingest keeps storing signals; on again, reads resume.
 * This file runs its own Unleash server: the switch it flips is product-wide.
 */
const operationId = (name: string) => manifest.operations.findLast((op) => op.name === name)!.id;
const workDir = mkdtempSync(join(tmpdir(), 'coherence-kill-switch-'));
let database: TestDatabase;
let unleash: RunningUnleash;
let app: Awaited<ReturnType<typeof startApplication>>;
let admin: PgPool;
let tenantId: string;
let readHeaders: Record<string, string>;
const clients: Client[] = [];

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  unleash = await startUnleash({
    port: await freePort(),
    postgres: services.postgres,
    database: `${database.namespace}_unleash`,
    logFile: join(workDir, 'unleash.log'),
    flags: { 'v24.coherence': true, 'region-routing': false },
  });
  app = await startApplication(services, database, { gatewayEnv: { ...unleashClientEnv(unleash, 200), GATEWAY_CACHE_ENABLED: 'true' } });
  admin = createPgPool(database.adminUrl);
  tenantId = `${database.namespace}-acme`;
  readHeaders = await app.readHeaders(tenantId);
  await admin.query(
    `INSERT INTO coherence_scores (tenant_id, score, status, agreement, window_iso, sources, as_of)
     VALUES ($1, 0.8, 'HEALTHY', 1, 'PT24H', '[{"source":"api","score":0.8,"count":1}]', now())`,
    [tenantId],
  );
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.dispose()));
  await app?.stop();
  await unleash?.stop();
  await admin?.end();
  await database?.drop();
  rmSync(workDir, { recursive: true, force: true });
});

interface GraphQLAnswer {
  status: number;
  body: { data?: Record<string, unknown> | null; errors?: { message: string; extensions: { code: string } }[] };
}

async function run(name: string, variables: Record<string, unknown> = { tenantId }): Promise<GraphQLAnswer> {
  const response = await fetch(`${app.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...readHeaders },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: operationId(name) } }, variables }),
  });
  return { status: response.status, body: (await response.json()) as GraphQLAnswer['body'] };
}

/** Polls tenantCoherence until it answers `status`; the flag takes a refresh interval or two to arrive. */
async function untilStatus(status: number, timeoutMs = 15_000): Promise<GraphQLAnswer> {
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    const answer = await run('TenantCoherence');
    if (answer.status === status || Date.now() > giveUpAt) return answer;
    await sleep(100);
  }
}

async function subscribeOnce(): Promise<unknown> {
  const client = createClient({
    url: `${app.gatewayUrl.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: readHeaders['authorization']! },
    retryAttempts: 0,
    lazy: true,
  });
  clients.push(client);
  const events = client.iterate({
    query: '',
    variables: { tenantId },
    extensions: { persistedQuery: { version: 1, sha256Hash: operationId('CoherenceEvents') } },
  });
  // A refused subscribe rejects at once; an accepted one waits for a change, so a short race tells them apart.
  return Promise.race([
    events.next().then(
      () => 'event',
      (errors: unknown) => errors,
    ),
    sleep(1_500).then(() => 'subscribed'),
  ]);
}

async function pushSignal(signalId: string): Promise<number> {
  const response = await fetch(`${app.ingestUrl}/v1/signals`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(await app.writeHeaders(tenantId)) },
    body: JSON.stringify({ signals: [{ tenantId, source: 'api', signalId, ts: new Date().toISOString(), type: 'latency', value: 0.5 }] }),
  });
  return response.status;
}

async function ledgerCount(): Promise<number> {
  const { rows } = await admin.query<{ count: string }>('SELECT count(*) FROM signal_ledger WHERE tenant_id = $1', [tenantId]);
  return Number(rows[0]!.count);
}

describe('kill switch v24.coherence on a real Unleash server', () => {
  it('serves coherence while the flag is on (and the cache holds the read)', async () => {
    const first = await run('TenantCoherence');
    expect(first.status).toBe(200);
    expect(first.body.data).toMatchObject({ tenantCoherence: { tenantId, score: 0.8 } });
    expect(await subscribeOnce()).toBe('subscribed');
  });

  it('off: coherence reads and new subscriptions answer FEATURE_DISABLED, ingest keeps storing', async () => {
    await createUnleashAdmin(unleash).setFlag('v24.coherence', false);
    const refused = await untilStatus(503);
    expect(refused.status).toBe(503);
    expect(refused.body).toEqual({
      errors: [{ message: expect.stringContaining('v24.coherence'), extensions: { code: 'FEATURE_DISABLED' } }],
    });
    const signals = await run('Signals');
    expect(signals.status).toBe(503);
    expect(signals.body.errors?.[0]?.extensions.code).toBe('FEATURE_DISABLED');
    expect(await subscribeOnce()).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'FEATURE_DISABLED' }) })]);

    const before = await ledgerCount();
    expect(await pushSignal('during-kill-switch')).toBe(202);
    expect(await ledgerCount()).toBe(before + 1);

    const metrics = await (await fetch(`${app.adminUrls.gateway}/metrics`)).text();
    expect(metrics).toMatch(/^gateway_feature_disabled_total\{operation="TenantCoherence"\} [1-9]/m);
    expect(metrics).toMatch(/^feature_flag_enabled\{flag="v24.coherence"\} 0$/m);
  });

  it('on again: service resumes', async () => {
    await createUnleashAdmin(unleash).setFlag('v24.coherence', true);
    const resumed = await untilStatus(200);
    expect(resumed.status).toBe(200);
    expect(resumed.body.data).toMatchObject({ tenantCoherence: { tenantId, score: 0.8 } });
    expect(await subscribeOnce()).toBe('subscribed');
  });
});
