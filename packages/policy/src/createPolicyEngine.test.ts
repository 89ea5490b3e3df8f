import { devArtifactPublicKeyPath, devArtifactSigningKeyPath, readArtifactPublicKey, readArtifactSigningKey } from '@coherence/auth';
import { createLogger } from '@coherence/platform';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PolicyInput } from './buildPolicyInput';
import { createPolicyEngine } from './createPolicyEngine';
import { policyBundleDir, policyBundleFiles, signPolicyBundle } from './loadPolicyBundle';

const work = mkdtempSync(join(tmpdir(), 'coherence-bundles-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const devKey = readArtifactSigningKey(devArtifactSigningKeyPath);
const publicKey = readArtifactPublicKey(devArtifactPublicKeyPath);
const committed = JSON.parse(readFileSync(join(policyBundleDir, policyBundleFiles.manifest), 'utf8')) as {
  version: string;
  sha256: string;
};
let copies = 0;

/** A copy of the committed bundle, changed by `tamper` (after which it is not re-signed). */
function bundleCopy(tamper: (dir: string) => void = () => undefined): string {
  copies += 1;
  const dir = join(work, `bundle-${copies}`);
  cpSync(policyBundleDir, dir, { recursive: true });
  tamper(dir);
  return dir;
}

/** A copy whose manifest.json is edited, then signed again with `key`: a bundle someone holding `key` built. */
async function resignedCopy(editManifest: (manifest: Record<string, unknown>) => void, key: KeyObject = devKey): Promise<string> {
  const dir = bundleCopy((copy) => {
    const manifest = { ...committed };
    editManifest(manifest);
    writeFileSync(join(copy, policyBundleFiles.manifest), JSON.stringify(manifest));
  });
  await signPolicyBundle(dir, key);
  return dir;
}

const allowedInput: PolicyInput = {
  principal: { subject: 'u', tenant: 'acme', scopes: ['coherence:read:self'], residency: ['us'] },
  operation: { id: 'op', type: 'query', rootFields: ['tenantCoherence'] },
  tenantIds: ['acme'],
  tenantResidency: { acme: 'us' },
  region: 'us',
  pausedScopes: [],
};

const logger = createLogger('test', 'silent');
const engineWith = (allowRollback = false) => createPolicyEngine({ logger, publicKey, allowRollback });

describe('createPolicyEngine', () => {
  it('fails closed while no bundle is active', () => {
    expect(engineWith().decide(allowedInput)).toEqual({
      allow: false,
      reasonCode: 'NO_ACTIVE_BUNDLE',
      explanation: 'no policy bundle is active',
      bundleSha256: null,
    });
  });

  it('decides with the active bundle and names it and its signing key', async () => {
    const engine = engineWith();
    const activated = await engine.activate(bundleCopy());
    expect(activated).toEqual({
      ok: true,
      version: committed.version,
      sha256: committed.sha256,
      keyId: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    expect(engine.decide(allowedInput)).toMatchObject({ allow: true, reasonCode: 'ALLOWED', bundleSha256: committed.sha256 });
  });

  it.each([
    [
      'a Wasm module changed after signing',
      () => bundleCopy((dir) => writeFileSync(join(dir, policyBundleFiles.wasm), Buffer.from('not wasm'))),
      'HASH_MISMATCH',
      /policy\.wasm hashes to/,
    ],
    ['an unsigned bundle', () => bundleCopy((dir) => rmSync(join(dir, policyBundleFiles.signatures))), 'UNSIGNED', /not signed/],
    [
      'a bundle signed by another key',
      () => resignedCopy(() => undefined, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey),
      'SIGNATURE_INVALID',
      /does not verify under the pinned key \(signed by key [0-9a-f]{16}/,
    ],
    [
      'a rolled back version',
      () => resignedCopy((manifest) => (manifest.version = '1.0.9')),
      'ROLLBACK',
      /1\.0\.9 is older than the active/,
    ],
    [
      'a signed bundle whose manifest does not match its files',
      () => resignedCopy((manifest) => (manifest.sha256 = '0'.repeat(64))),
      'INVALID_ARTIFACT',
      /sha256 mismatch/,
    ],
    ['a missing Wasm module', () => bundleCopy((dir) => rmSync(join(dir, policyBundleFiles.wasm))), 'INVALID_ARTIFACT', /ENOENT/],
  ])('refuses %s and keeps the previous bundle active', async (_name, candidate, reason, problem) => {
    const engine = engineWith();
    await engine.activate(bundleCopy());
    expect(await engine.activate(await candidate())).toEqual({ ok: false, reason, error: expect.stringMatching(problem) });
    expect(engine.activeBundle()).toEqual({ version: committed.version, sha256: committed.sha256 });
    expect(engine.decide(allowedInput)).toMatchObject({ allow: true, bundleSha256: committed.sha256 });
  });

  it('activates a newer signed version, and an older one only when rollback is allowed', async () => {
    const newer = await resignedCopy((manifest) => (manifest.version = '1.10.0'));
    const engine = engineWith();
    await engine.activate(bundleCopy());
    expect(await engine.activate(newer)).toMatchObject({ ok: true, version: '1.10.0' });
    expect(await engine.activate(bundleCopy())).toMatchObject({ ok: false, reason: 'ROLLBACK' });

    const permissive = engineWith(true);
    await permissive.activate(newer);
    expect(await permissive.activate(bundleCopy())).toMatchObject({ ok: true, version: committed.version });
  });

  it('refuses a bad first bundle and stays closed', async () => {
    const engine = engineWith();
    expect(await engine.activate(bundleCopy((dir) => rmSync(join(dir, policyBundleFiles.signatures))))).toMatchObject({
      reason: 'UNSIGNED',
    });
    expect(engine.activeBundle()).toBeUndefined();
    expect(engine.decide(allowedInput).reasonCode).toBe('NO_ACTIVE_BUNDLE');
  });
});
