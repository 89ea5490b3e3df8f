import { devArtifactSigningKeyPath, readArtifactSigningKey } from '@coherence/auth';
import { createGateway, readGatewayConfig } from '@coherence/gateway';
import { POLICY_ENTRYPOINT, policyBundleDir, policyBundleFiles, policyBundleSha256, signPolicyBundle } from '@coherence/policy';
import { costsPath, publishManifest, readCosts, readManifest, type Manifest } from '@coherence/persisted-queries';
import { createLogger, createPgPool, type PgPool } from '@coherence/platform';
import { createTestDatabase, startApplication, type TestDatabase } from '@coherence/testkit';
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * Issue 14, item 6, black box: the gateway takes a policy bundle or a
 * persisted-operation manifest only when it is signed by the pinned key and
 * not older than the active one. Each attack swaps files on disk and asks
 * the running gateway to reload (what SIGHUP does); the request after it is
 * still decided by the artifact active before, and the refusal is a
 * security event and a metric.
 */
const repoRoot = resolve(import.meta.dirname, '..');
const workDir = mkdtempSync(join(tmpdir(), 'coherence-signed-'));
const devKey = readArtifactSigningKey(devArtifactSigningKeyPath);
const attackerKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const costs = readCosts(costsPath);
const v1Manifest = readManifest(join(repoRoot, 'persisted-queries/manifest.json'));
const statusBody = 'query TenantStatus($tenantId: ID!) {\n  tenantCoherence(tenantId: $tenantId) {\n    status\n  }\n}';
const statusOperation = {
  id: createHash('sha256').update(statusBody).digest('hex'),
  name: 'TenantStatus',
  type: 'query' as const,
  body: statusBody,
};
const v2Manifest: Manifest = { ...v1Manifest, operations: [...v1Manifest.operations, statusOperation] };
const v2Costs = { ...costs, TenantStatus: { base: 1 } };
const tenantCoherenceId = v1Manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id;

const store = join(workDir, 'store');
const bundleDir = join(workDir, 'bundle');
let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
let admin: PgPool;
let tenantId: string;

/** A policy bundle made from the committed Wasm with its own data document and version, signed with `key` (the Wasm decides alike; the sha256 tells which bundle decided). */
async function writeBundle(dir: string, version: string, key: KeyObject = devKey): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const wasm = readFileSync(join(policyBundleDir, policyBundleFiles.wasm));
  const data = Buffer.from(JSON.stringify({ release: version }));
  const sha256 = policyBundleSha256(wasm, data);
  const manifest = { version, sha256, entrypoint: POLICY_ENTRYPOINT, opaVersion: 'test' };
  writeFileSync(join(dir, policyBundleFiles.wasm), wasm);
  writeFileSync(join(dir, policyBundleFiles.data), data);
  writeFileSync(join(dir, policyBundleFiles.manifest), JSON.stringify(manifest));
  await signPolicyBundle(dir, key);
  return sha256;
}

/** The security events the gateway wrote about an artifact from `source`, by kind and reason. */
async function artifactEvents(source: string): Promise<{ kind: string; reason: string }[]> {
  await app.gateway.flushSecurityEvents();
  const { rows } = await admin.query<{ kind: string; reason: string }>(
    "SELECT kind, reason FROM security_events WHERE kind LIKE 'ARTIFACT_%' AND details->>'source' = $1 ORDER BY id",
    [source],
  );
  return rows;
}

async function metrics(): Promise<string> {
  return (await fetch(`${app.adminUrls.gateway}/metrics`)).text();
}

async function run(operationId: string): Promise<{ status: number; code?: string; correlationId: string }> {
  const correlationId = randomBytes(16).toString('hex');
  const response = await fetch(`${app.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      traceparent: `00-${correlationId}-${'a'.repeat(16)}-01`,
      ...(await app.readHeaders(tenantId)),
    },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: operationId } }, variables: { tenantId } }),
  });
  const body = (await response.json()) as { errors?: { extensions: { code: string } }[] };
  return { status: response.status, code: body.errors?.[0]?.extensions.code, correlationId };
}

/** The bundle that decided a request, from its audit row. */
async function decidingBundle(correlationId: string): Promise<string | null> {
  await app.gateway.flushDecisions();
  const { rows } = await admin.query<{ bundle_sha256: string | null }>(
    'SELECT bundle_sha256 FROM policy_decisions WHERE correlation_id = $1',
    [correlationId],
  );
  return rows[0]?.bundle_sha256 ?? null;
}

let releasedBundle: string;

beforeAll(async () => {
  await publishManifest(store, v1Manifest, costs, devKey);
  cpSync(store, join(workDir, 'published-v1'), { recursive: true });
  await writeBundle(bundleDir, '1.1.0');
  database = await createTestDatabase(inject('services'));
  app = await startApplication(inject('services'), database, {
    gatewayEnv: { GATEWAY_MANIFEST_PATH: join(store, 'manifest.json'), GATEWAY_POLICY_BUNDLE_DIR: bundleDir },
  });
  admin = createPgPool(database.adminUrl, { max: 2 });
  tenantId = `${database.namespace}-signed`;
  // The release the attacks try to replace: policy 1.2.0 and manifest publication 2, both properly signed.
  releasedBundle = await writeBundle(bundleDir, '1.2.0');
  await publishManifest(store, v2Manifest, v2Costs, devKey);
  await app.gateway.reload();
  cpSync(store, join(workDir, 'published-v2'), { recursive: true });
  cpSync(bundleDir, join(workDir, 'released-bundle'), { recursive: true });
});

afterAll(async () => {
  await app?.stop();
  await admin?.end();
  await database?.drop();
  rmSync(workDir, { recursive: true, force: true });
});

describe('signed policy bundles', () => {
  it('activates a newer bundle signed by the pinned key, and records it', async () => {
    const { status, correlationId } = await run(tenantCoherenceId);
    expect(status).toBe(200);
    expect(await decidingBundle(correlationId)).toBe(releasedBundle);
    expect(await artifactEvents(bundleDir)).toEqual(expect.arrayContaining([{ kind: 'ARTIFACT_ACTIVATED', reason: 'ACTIVATED' }]));
  });

  it.each([
    [
      'a data document changed after signing',
      'HASH_MISMATCH',
      async () => writeFileSync(join(bundleDir, policyBundleFiles.data), '{"release":"evil"}'),
    ],
    ['an unsigned bundle', 'UNSIGNED', async () => rmSync(join(bundleDir, policyBundleFiles.signatures))],
    ['a bundle signed by another key', 'SIGNATURE_INVALID', async () => void (await writeBundle(bundleDir, '9.0.0', attackerKey))],
    ['an older bundle, properly signed (a replay)', 'ROLLBACK', async () => void (await writeBundle(bundleDir, '1.1.0'))],
  ])('refuses %s; the active bundle keeps deciding', async (_name, reason, attack) => {
    cpSync(join(workDir, 'released-bundle'), bundleDir, { recursive: true });
    await attack();
    await app.gateway.reload();
    const { status, correlationId } = await run(tenantCoherenceId);
    expect(status).toBe(200);
    expect(await decidingBundle(correlationId)).toBe(releasedBundle);
    expect(await artifactEvents(bundleDir)).toEqual(expect.arrayContaining([{ kind: 'ARTIFACT_REFUSED', reason }]));
    expect(await metrics()).toMatch(
      new RegExp(`gateway_artifact_activations_total\\{artifact="policy",outcome="refused",reason="${reason}"\\} [1-9]`),
    );
  });
});

describe('signed persisted-operation manifests', () => {
  it('serves a publication signed by the pinned key', async () => {
    expect(await run(statusOperation.id)).toMatchObject({ status: 200 });
    expect(await artifactEvents(join(store, 'manifest.json'))).toEqual(
      expect.arrayContaining([{ kind: 'ARTIFACT_ACTIVATED', reason: 'ACTIVATED' }]),
    );
  });

  it.each([
    [
      'a publication signed by another key',
      'SIGNATURE_INVALID',
      async () => void (await publishManifest(store, v1Manifest, costs, attackerKey)),
    ],
    [
      'a manifest changed after signing',
      'HASH_MISMATCH',
      async () => writeFileSync(join(store, 'manifest.json'), JSON.stringify(v1Manifest)),
    ],
    ['an unsigned manifest', 'UNSIGNED', async () => rmSync(join(store, '.signatures.json'))],
    [
      'an older publication, properly signed (a replay)',
      'ROLLBACK',
      async () => cpSync(join(workDir, 'published-v1'), store, { recursive: true }),
    ],
  ])('refuses %s at reload; the active operations stay', async (_name, reason, attack) => {
    cpSync(join(workDir, 'published-v2'), store, { recursive: true });
    await attack();
    await app.gateway.reload();
    // Each attack would drop TenantStatus: it still runs, so the publication active before still answers.
    expect(await run(statusOperation.id)).toMatchObject({ status: 200 });
    expect(await artifactEvents(join(store, 'manifest.json'))).toEqual(expect.arrayContaining([{ kind: 'ARTIFACT_REFUSED', reason }]));
    expect(await metrics()).toMatch(
      new RegExp(`gateway_artifact_activations_total\\{artifact="manifest",outcome="refused",reason="${reason}"\\} [1-9]`),
    );
  });

  it.each([
    ['unsigned', 'UNSIGNED', (dir: string) => rmSync(join(dir, '.signatures.json'))],
    [
      'signed by another key',
      'SIGNATURE_INVALID',
      async (dir: string) => void (await publishManifest(dir, v1Manifest, costs, attackerKey)),
    ],
  ])('does not start with a manifest %s', async (_name, reason, attack) => {
    const dir = join(workDir, `start-${reason}`);
    cpSync(join(workDir, 'published-v1'), dir, { recursive: true });
    await attack(dir);
    const config = readGatewayConfig({
      GATEWAY_DATABASE_URL: database.appUrl,
      GATEWAY_REGION: 'us',
      GATEWAY_JWKS: app.jwksPath,
      GATEWAY_TOKEN_ISSUERS: 'coherence-dev',
      GATEWAY_REDIS_URL: 'redis://127.0.0.1:1',
      GATEWAY_MANIFEST_PATH: join(dir, 'manifest.json'),
      GATEWAY_INTERNAL_SIGNING_KEY: app.internalKeys.privateKeyPath,
    });
    await expect(createGateway(config, createLogger('test', 'silent'))).rejects.toThrow(`refused (${reason})`);
  });
});
