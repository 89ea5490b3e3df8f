import { policyBundleDir, signPolicyBundle } from '@coherence/policy';
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The issuer the benches' tokens name (the dev issuer is refused under NODE_ENV=production). */
export const BENCH_ISSUER = 'coherence-bench';

/**
 * What a service under NODE_ENV=production trusts, made for a bench: such a
 * service refuses the dev issuer, any key file named like a dev one, and the
 * committed dev artifact key (packages/auth tokenTrustCheck, artifactKeys).
 * So a bench keeps the dev keys under names of its own, and signs a copy of
 * the policy bundle (and whatever else it needs signed) with a key it makes.
 */
export async function productionTrust(rootDir: string) {
  const artifactKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const artifactPublicKey = join(rootDir, 'bench-artifacts.pem');
  writeFileSync(artifactPublicKey, artifactKey.publicKey.export({ type: 'spki', format: 'pem' }));
  const bundleDir = join(rootDir, 'policy-bundle');
  cpSync(policyBundleDir, bundleDir, { recursive: true });
  await signPolicyBundle(bundleDir, artifactKey.privateKey);
  return {
    /** The pinned public key of the bench's artifacts (a service's *_POLICY_PUBLIC_KEY, *_MANIFEST_PUBLIC_KEY). */
    artifactPublicKey,
    /** Signs artifacts with it. */
    artifactPrivateKey: artifactKey.privateKey,
    /** The committed policy bundle, signed with it. */
    bundleDir,
    /** A copy of a dev key file under the bench's own name `name`. */
    renamed(path: string, name: string): string {
      const copy = join(rootDir, name);
      copyFileSync(path, copy);
      return copy;
    },
  };
}
