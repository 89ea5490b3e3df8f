import { createPgPool, type PgPool } from '@coherence/platform';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createTestDatabase, createUnleashAdmin, unleashClientEnv, type TestDatabase } from '@coherence/devservices';
import { startApplication } from './support/startApplication';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * `region-routing` over the whole stack with the run's Unleash server and
 * its real streaming replica (tagged `services.postgres.replicaRegion`): an
 * EU gateway with the flag on makes the coherence subgraph read the EU
 * replica, with it off the primary. Proof: WAL replay on the replica is
 * paused and the score changed on the primary, so the replica alone still
 * answers the old score.
 */
const tenantCoherenceId = manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id;
let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
let primary: PgPool;
let replicaSuperuser: PgPool;
let tenantId: string;
let headers: Record<string, string>;

beforeAll(async () => {
  const services = inject('services');
  const { host, replicaPort, replicaRegion } = services.postgres;
  database = await createTestDatabase(services);
  await createUnleashAdmin(services.unleash).setFlag('region-routing', false);
  app = await startApplication(services, database, {
    gatewayEnv: { ...unleashClientEnv(services.unleash, 200), GATEWAY_REGION: replicaRegion },
    coherenceEnv: {
      COHERENCE_READ_REPLICAS: `${replicaRegion}=postgres://coherence_app@${host}:${replicaPort}/${database.name}`,
      // The proof reads the paused replica's old score, however long the machine takes: no fallback to the primary for lag here
      // (e2e/dependencyFaults.e2e.ts tests the fallback).
      COHERENCE_REPLICA_MAX_LAG_MS: '3600000',
    },
  });
  primary = createPgPool(database.adminUrl, { max: 2 });
  replicaSuperuser = createPgPool(`postgres://postgres@${host}:${replicaPort}/${database.name}`, { max: 1 });
  tenantId = `${database.namespace}-emea`;
  await app.registerTenant(tenantId, replicaRegion);
  headers = {
    authorization: `Bearer ${await app.mintToken({ tenant: tenantId, scopes: ['coherence:read:self'], residency: [replicaRegion] })}`,
  };
});

afterAll(async () => {
  // Whatever happened, the shared replica replays again and the shared flag is off.
  await replicaSuperuser?.query('SELECT pg_wal_replay_resume()').catch(() => undefined);
  await createUnleashAdmin(inject('services').unleash).setFlag('region-routing', false);
  await app?.stop();
  await Promise.all([primary?.end(), replicaSuperuser?.end()]);
  await database?.drop();
});

async function setScore(score: number): Promise<void> {
  await primary.query(
    `INSERT INTO coherence_scores (tenant_id, score, status, agreement, window_iso, sources, as_of)
     VALUES ($1, $2, 'HEALTHY', 1, 'PT24H', '[]', now())
     ON CONFLICT (tenant_id) DO UPDATE SET score = $2, updated_at = now()`,
    [tenantId, score],
  );
}

async function readScore(): Promise<unknown> {
  const response = await fetch(`${app.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: tenantCoherenceId } }, variables: { tenantId } }),
  });
  const body = (await response.json()) as { data?: { tenantCoherence: { score: number | null } }; errors?: unknown };
  if (response.status !== 200) throw new Error(`gateway answered ${response.status}: ${JSON.stringify(body)}`);
  return body.data?.tenantCoherence.score;
}

/** Polls until `probe` returns `expected` (the flag takes a refresh interval or two to arrive); returns the last value. */
async function until(probe: () => Promise<unknown>, expected: unknown, timeoutMs = 15_000): Promise<unknown> {
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value === expected || Date.now() > giveUpAt) return value;
    await sleep(100);
  }
}

async function replicaLagSeconds(region: string): Promise<number> {
  const text = await (await fetch(`${app.adminUrls.coherence}/metrics`)).text();
  return Number(new RegExp(`^coherence_replica_lag_seconds\\{replica_region="${region}"\\} (\\S+)$`, 'm').exec(text)?.[1]);
}

async function readsByTarget(): Promise<Record<string, number>> {
  const text = await (await fetch(`${app.adminUrls.coherence}/metrics`)).text();
  return Object.fromEntries(
    [...text.matchAll(/^coherence_read_model_reads_total\{target="([^"]+)"\} (\S+)$/gm)].map((m) => [m[1]!, Number(m[2])]),
  );
}

describe('region-routing on a real Unleash server and a real streaming replica', () => {
  it('reads from the replica of the gateway’s region while the flag is on, from the primary while it is off', async () => {
    const { replicaRegion } = inject('services').postgres;
    await setScore(0.8);
    // The replica has caught up with the first score…
    const replicaScore = async () =>
      (await replicaSuperuser.query<{ score: number }>('SELECT score FROM coherence_scores WHERE tenant_id = $1', [tenantId])).rows[0]
        ?.score;
    expect(await until(replicaScore, 0.8)).toBe(0.8);
    // …and then stops replaying, so it keeps that score while the primary moves on.
    const { rows } = await replicaSuperuser.query<{ in_recovery: boolean }>('SELECT pg_is_in_recovery() AS in_recovery');
    expect(rows[0]!.in_recovery).toBe(true);
    await replicaSuperuser.query('SELECT pg_wal_replay_pause()');
    try {
      await setScore(0.3);
      expect(await readScore()).toBe(0.3);
      // What the replica-lag alert watches: the paused replica has WAL it has not replayed.
      expect(await until(async () => (await replicaLagSeconds(replicaRegion)) > 0, true)).toBe(true);
      const before = await readsByTarget();

      await createUnleashAdmin(inject('services').unleash).setFlag('region-routing', true);
      expect(await until(readScore, 0.8)).toBe(0.8);
      const during = await readsByTarget();
      expect(during[replicaRegion]).toBeGreaterThan(before[replicaRegion] ?? 0);

      await createUnleashAdmin(inject('services').unleash).setFlag('region-routing', false);
      expect(await until(readScore, 0.3)).toBe(0.3);
      expect((await readsByTarget())['primary']).toBeGreaterThan(during['primary'] ?? 0);
    } finally {
      await replicaSuperuser.query('SELECT pg_wal_replay_resume()');
    }
    expect(await until(() => replicaLagSeconds(replicaRegion), 0)).toBe(0);
  });
});
