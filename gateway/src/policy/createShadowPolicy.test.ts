import { devArtifactPublicKeyPath, readArtifactPublicKey } from '@coherence/auth';
import { createLogger } from '@coherence/platform';
import { buildPolicyInput, policyBundleDir, type PolicyInput, type PolicyVerdict } from '@coherence/policy';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { createSecurityMetrics } from '../createSecurityMetrics';
import { createShadowPolicy } from './createShadowPolicy';

/**
 * The shadow's contract with the request path, with the committed bundle as
 * the candidate: agreement is not counted, a failure is counted and never
 * thrown. (Disagreements with a tightened candidate: e2e/policyShadow.e2e.ts.)
 */
const logger = createLogger('test', 'silent');
const publicKey = readArtifactPublicKey(devArtifactPublicKeyPath);
const emptyDir = mkdtempSync(join(tmpdir(), 'coherence-no-bundle-'));
afterAll(() => rmSync(emptyDir, { recursive: true, force: true }));

const input: PolicyInput = buildPolicyInput({
  principal: { subject: 'user-1', tenantId: 'acme', scopes: ['coherence:read:self'], residency: ['us'] },
  operation: { id: 'op', type: 'query', rootFields: ['tenantCoherence'] },
  tenantIds: ['acme'],
  tenantResidency: new Map([['acme', 'us']]),
  region: 'us',
  pausedScopes: [],
  suspendedTenants: [],
});
const verdict = (allow: boolean, reasonCode: string): PolicyVerdict => ({
  allow,
  reasonCode,
  explanation: 'live',
  bundleSha256: 'a'.repeat(64),
});

async function shadowOver(dir: string) {
  const registry = new Registry();
  const metrics = createSecurityMetrics(registry);
  const shadow = await createShadowPolicy({ dir, publicKey, logger, metrics });
  const counted = async () => (await registry.getMetricsAsJSON()).filter((metric) => metric.name.startsWith('gateway_policy_shadow_'));
  return { shadow, counted };
}

describe('createShadowPolicy', () => {
  it('answers what the candidate decides, counting nothing when it agrees and the change when it does not', async () => {
    const { shadow, counted } = await shadowOver(policyBundleDir);
    expect(shadow.compare(input, verdict(true, 'ALLOWED'))).toMatchObject({ allow: true, reasonCode: 'ALLOWED' });
    expect((await counted()).flatMap((metric) => metric.values)).toEqual([]);

    shadow.compare(input, verdict(false, 'SCOPE_MISSING'));
    const disagreements = (await counted()).find((metric) => metric.name === 'gateway_policy_shadow_disagreements_total');
    expect(disagreements?.values).toEqual([{ value: 1, labels: { change: 'deny_to_allow', reason_code: 'ALLOWED' } }]);
  });

  it('counts an evaluation that throws and answers nothing, so the live decision stands', async () => {
    const { shadow, counted } = await shadowOver(policyBundleDir);
    // A value the Wasm host cannot serialize makes the evaluation itself throw.
    const unserializable = { ...input, region: 1n } as unknown as PolicyInput;
    expect(shadow.compare(unserializable, verdict(true, 'ALLOWED'))).toBeUndefined();
    const failures = (await counted()).find((metric) => metric.name === 'gateway_policy_shadow_failures_total');
    expect(failures?.values).toEqual([{ value: 1, labels: { stage: 'evaluation' } }]);
  });

  it('counts a candidate folder that does not load, and then compares nothing', async () => {
    const { shadow, counted } = await shadowOver(emptyDir);
    expect(shadow.compare(input, verdict(true, 'ALLOWED'))).toBeUndefined();
    const failures = (await counted()).find((metric) => metric.name === 'gateway_policy_shadow_failures_total');
    expect(failures?.values).toEqual([{ value: 1, labels: { stage: 'activation' } }]);
  });
});
