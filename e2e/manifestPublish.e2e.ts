import { devArtifactSigningKeyPath, readArtifactSigningKey } from '@coherence/auth';
import { costsPath, publishManifest, readCosts, readManifest, runPq } from '@coherence/persisted-queries';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { startApplication } from './support/startApplication';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, inject, it, vi } from 'vitest';

/**
 * `pq publish` reaches a running gateway: the gateway watches the published
 * manifest's signature in the shared store and switches to a new version
 * without a restart, while the ids it already served keep working. (Refused
 * publications: e2e/boundary.e2e.ts.)
 */
const repoRoot = resolve(import.meta.dirname, '..');
const project = mkdtempSync(join(tmpdir(), 'pq-publish-'));
const store = join(project, 'store');
let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;

beforeAll(async () => {
  mkdirSync(join(project, 'ops'));
  cpSync(join(repoRoot, 'persisted-queries/operations'), join(project, 'ops'), { recursive: true });
  writeFileSync(
    join(project, 'pq.config.json'),
    JSON.stringify({
      sources: ['ops/**/*.graphql'],
      manifest: 'manifest.json',
      supergraph: join(repoRoot, 'gateway/supergraph.graphql'),
      publishDir: 'store',
    }),
  );
  // What is deployed today: the repo's manifest and cost table, published as version 1.
  await publishManifest(
    store,
    readManifest(join(repoRoot, 'persisted-queries/manifest.json')),
    readCosts(costsPath),
    readArtifactSigningKey(devArtifactSigningKeyPath),
  );
  database = await createTestDatabase(inject('services'));
  app = await startApplication(inject('services'), database, { gatewayEnv: { GATEWAY_MANIFEST_PATH: join(store, 'manifest.json') } });
});

afterAll(async () => {
  await app?.stop();
  await database?.drop();
  rmSync(project, { recursive: true, force: true });
});

async function run(id: string, tenantId: string) {
  const response = await fetch(`${app.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(await app.readHeaders(tenantId)) },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: id } }, variables: { tenantId } }),
  });
  return { status: response.status, body: (await response.json()) as { data?: unknown; errors?: { extensions: { code: string } }[] } };
}

it('serves a newly published operation without a restart, and keeps serving the old ones', async () => {
  const tenantId = `${database.namespace}-pub`;
  // The current TenantCoherence (the newest of its ids): this project's manifest is built from the sources alone, so an
  // id the repo's manifest keeps only until a prune is not in what it publishes.
  const oldId = readManifest(join(store, 'manifest.json')).operations.findLast((op) => op.name === 'TenantCoherence')!.id;
  writeFileSync(
    join(project, 'ops/TenantStatus.graphql'),
    'query TenantStatus($tenantId: ID!) { tenantCoherence(tenantId: $tenantId) { status } }\n',
  );
  writeFileSync(join(project, 'costs.json'), JSON.stringify({ ...readCosts(costsPath), TenantStatus: { base: 1 } }));
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  expect(await runPq(['update'], project)).toBe(0);
  const newId = readManifest(join(project, 'manifest.json')).operations.find((op) => op.name === 'TenantStatus')!.id;
  expect((await run(newId, tenantId)).body.errors?.[0]?.extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');

  expect(await runPq(['publish'], project)).toBe(0);
  vi.restoreAllMocks();
  let answer = await run(newId, tenantId);
  for (let waited = 0; answer.status !== 200 && waited < 10_000; waited += 100) {
    await sleep(100);
    answer = await run(newId, tenantId);
  }
  expect(answer).toMatchObject({ status: 200, body: { data: { tenantCoherence: { status: 'UNKNOWN' } } } });
  expect((await run(oldId, tenantId)).status).toBe(200);
});
