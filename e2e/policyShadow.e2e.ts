import { devArtifactSigningKeyPath, readArtifactSigningKey } from '@coherence/auth';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { ensureOpa, pinnedOpaVersion } from '@coherence/devservices/opa';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createPgPool, type PgPool } from '@coherence/platform';
import { POLICY_ENTRYPOINT, writeSignedPolicyBundle } from '@coherence/policy';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApplication } from './support/startApplication';

/**
 * Shadow mode (GATEWAY_SHADOW_BUNDLE_DIR, docs/adr/0027-policy-simulation.md)
 * over the real application: a candidate bundle that no longer covers
 * `tenantCoherence` disagrees with every read the live bundle allows; the
 * reader still gets the answer, and the disagreement is a row and a metric.
 * A candidate that stops loading is counted, never surfaced.
 */
const tenantCoherenceId = manifest.operations.findLast((operation) => operation.name === 'TenantCoherence')!.id;
const workDir = mkdtempSync(join(tmpdir(), 'coherence-shadow-'));
const shadowDir = join(workDir, 'shadow');
let shadowSha256: string;
let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
let admin: PgPool;

beforeAll(async () => {
  const sourceDir = join(workDir, 'source');
  mkdirSync(join(sourceDir, 'src'), { recursive: true });
  const rego = readFileSync(fileURLToPath(new URL('../policy/src/authz.rego', import.meta.url)), 'utf8');
  const rule = '\t"tenantCoherence": "read",\n';
  expect(rego).toContain(rule);
  writeFileSync(join(sourceDir, 'src/authz.rego'), rego.replace(rule, ''));
  writeFileSync(join(sourceDir, 'VERSION'), '1.3.0\n');
  await writeSignedPolicyBundle(
    { dir: sourceDir, source: 'src/authz.rego', entrypoint: POLICY_ENTRYPOINT },
    { opa: await ensureOpa(), opaVersion: pinnedOpaVersion },
    shadowDir,
    readArtifactSigningKey(devArtifactSigningKeyPath),
  );
  shadowSha256 = (JSON.parse(readFileSync(join(shadowDir, 'manifest.json'), 'utf8')) as { sha256: string }).sha256;

  database = await createTestDatabase(inject('services'));
  admin = createPgPool(database.adminUrl);
  app = await startApplication(inject('services'), database, { gatewayEnv: { GATEWAY_SHADOW_BUNDLE_DIR: shadowDir } });
}, 900_000);

afterAll(async () => {
  await app?.stop();
  await admin?.end();
  await database?.drop();
  rmSync(workDir, { recursive: true, force: true });
});

/** Reads `tenantId` with a read:self token, continuing a trace whose id is the decision's correlation id. */
async function read(tenantId: string) {
  const correlationId = randomBytes(16).toString('hex');
  const headers = await app.readHeaders(tenantId);
  const response = await fetch(`${app.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: `00-${correlationId}-${'a'.repeat(16)}-01`, ...headers },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: tenantCoherenceId } }, variables: { tenantId } }),
  });
  return { correlationId, token: headers.authorization!.slice('Bearer '.length), status: response.status, body: await response.json() };
}

interface DecisionRow {
  allow: boolean;
  reason_code: string;
  input: unknown;
  input_text: string;
  region: string;
  shadow_allow: boolean | null;
  shadow_reason_code: string | null;
  shadow_bundle_sha256: string | null;
}

/** The decision row of a request; written off the request path, so polled for. */
async function decisionOf(correlationId: string): Promise<DecisionRow | undefined> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { rows } = await admin.query<DecisionRow>(
      `SELECT allow, reason_code, input, input::text AS input_text, region, shadow_allow, shadow_reason_code, shadow_bundle_sha256
         FROM policy_decisions WHERE correlation_id = $1`,
      [correlationId],
    );
    if (rows.length > 0 || Date.now() > deadline) return rows[0];
    await sleep(100);
  }
}

const metrics = async () => (await fetch(`${app.adminUrls.gateway}/metrics`)).text();

describe('the gateway in shadow mode', () => {
  it('answers with the live bundle and keeps the shadow disagreement as a row and a metric', async () => {
    const tenantId = `${database.namespace}-acme`;
    const { correlationId, token, status, body } = await read(tenantId);
    expect(status).toBe(200);
    expect(body).toEqual({ data: { tenantCoherence: expect.objectContaining({ tenantId }) } });

    const row = await decisionOf(correlationId);
    expect(row).toMatchObject({
      allow: true,
      reason_code: 'ALLOWED',
      shadow_allow: false,
      shadow_reason_code: 'FIELD_NOT_COVERED',
      shadow_bundle_sha256: shadowSha256,
    });
    // The input the live bundle decided, replayable by `npm run policy -- simulate`, and nothing of the token.
    expect(row?.input).toEqual({
      principal: { subject: 'test-user', tenant: tenantId, scopes: ['coherence:read:self'], residency: ['us'] },
      operation: { id: tenantCoherenceId, type: 'query', rootFields: ['tenantCoherence'] },
      tenantIds: [tenantId],
      tenantResidency: { [tenantId]: row?.region },
      region: row?.region,
      pausedScopes: [],
      suspendedTenants: [],
    });
    for (const part of token.split('.')) expect(row?.input_text).not.toContain(part);
    expect(await metrics()).toMatch(
      /^gateway_policy_shadow_disagreements_total\{change="allow_to_deny",reason_code="FIELD_NOT_COVERED"\} [1-9]/m,
    );
  });

  it('counts a candidate that no longer loads, keeps the one it had, and still answers every request', async () => {
    writeFileSync(join(shadowDir, 'policy.wasm'), 'not a wasm module');
    await app.gateway.reload();
    expect(await metrics()).toMatch(/^gateway_policy_shadow_failures_total\{stage="activation"\} 1$/m);

    const tenantId = `${database.namespace}-globex`;
    const { correlationId, status } = await read(tenantId);
    expect(status).toBe(200);
    expect(await decisionOf(correlationId)).toMatchObject({ allow: true, shadow_bundle_sha256: shadowSha256 });
  });
});
