import type { TokenVerifier, VerifyResult } from './createTokenVerifier';

export interface TokenCacheOptions {
  /** Most tokens remembered; the oldest is forgotten first. Default 10_000. */
  maxEntries?: number;
  /** How long a verification is trusted, capped by the token's own `exp`. Default 60_000. */
  maxAgeMs?: number;
  now?: () => number;
  /** Which reading of the keys is current (KeySet.generation): a verification made under another is not reused. */
  generation?: () => unknown;
}

/**
 * Remembers successful verifications: callers send the same token on every
 * request, and an ES256 signature check is the largest CPU cost of a
 * single-signal push and of a cached read. Refusals are never cached (a fixed clock or key must
 * take effect at once), a token is never trusted past its `exp`, and a
 * verification is not reused once the keys were read again (a key rotated
 * out stops verifying at once).
 */
export function cacheVerifiedTokens(verify: TokenVerifier, options: TokenCacheOptions = {}): TokenVerifier {
  const maxEntries = options.maxEntries ?? 10_000;
  const maxAgeMs = options.maxAgeMs ?? 60_000;
  const now = options.now ?? Date.now;
  const generation = options.generation ?? (() => undefined);
  const cache = new Map<string, { result: VerifyResult & { ok: true }; validUntil: number; generation: unknown }>();
  return async (token) => {
    if (token === undefined) return verify(token);
    const cached = cache.get(token);
    if (cached && cached.validUntil > now() && cached.generation === generation()) return cached.result;
    cache.delete(token);
    const verifiedUnder = generation();
    const result = await verify(token);
    if (result.ok) {
      if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
      cache.set(token, {
        result,
        validUntil: Math.min(now() + maxAgeMs, result.principal.expiresAt.getTime()),
        generation: verifiedUnder,
      });
    }
    return result;
  };
}
