import type { KeyObject } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { artifactKeyId, readArtifactPublicKey } from './artifactSignature';

/**
 * The dev key pair that signs the committed policy bundles and manifest, and
 * whatever a developer builds or publishes locally. Both halves are committed
 * (anyone can sign with it), so production refuses its public half.
 */
export const devArtifactSigningKeyPath = fileURLToPath(new URL('../dev-keys/artifact-signing.private.jwk.json', import.meta.url));
export const devArtifactPublicKeyPath = fileURLToPath(new URL('../dev-keys/artifact-signing.public.jwk.json', import.meta.url));

/** A pinned artifact key: the file it was read from, the key, and its id as written in signatures. */
export interface PinnedArtifactKey {
  path: string;
  key: KeyObject;
  keyId: string;
}

/** A config field holding the path of a public key (PEM or JWK) artifacts must be signed with; read once at start. Default: the dev key. */
export function artifactPublicKeyField() {
  return z
    .string()
    .min(1)
    .default(devArtifactPublicKeyPath)
    .transform((path, ctx): PinnedArtifactKey => {
      try {
        const key = readArtifactPublicKey(path);
        return { path, key, keyId: artifactKeyId(key) };
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `cannot read a public key from ${path}: ${(error as Error).message}` });
        return z.NEVER;
      }
    });
}

/** `true` lets an artifact older than the active one be activated (`--allow-rollback`, read at start). Default false. */
export function allowRollbackField() {
  return z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true');
}

/**
 * A refinement for a service's config schema: when `NODE_ENV` is
 * `production`, none of these variables may pin the dev artifact key (by key,
 * not file name, so a renamed copy is refused too).
 */
export function artifactTrustCheck<V extends string>(variables: readonly V[]) {
  const devKeyId = artifactKeyId(readArtifactPublicKey(devArtifactPublicKeyPath));
  return (config: { NODE_ENV?: string | undefined } & Record<V, PinnedArtifactKey>, ctx: z.RefinementCtx): void => {
    if (config.NODE_ENV !== 'production') return;
    for (const variable of variables) {
      if (config[variable].keyId === devKeyId)
        ctx.addIssue({ code: 'custom', path: [variable], message: 'the dev artifact key is refused when NODE_ENV=production' });
    }
  };
}
