import type { TokenVerifier, VerifyResult } from '@coherence/auth';

export interface TokenCacheOptions {
  /** Most tokens remembered; the oldest is forgotten first. Default 10_000. */
  maxEntries?: number;
  /** How long a verification is trusted, capped by the token's own `exp`. Default 60_000. */
  maxAgeMs?: number;
  now?: () => number;
}

/**
 * Remembers successful verifications: producers send the same token on
 * every request, and an ES256 signature check is the largest CPU cost of a
 * single-signal push. Refusals are never cached (a fixed clock or key must
 * take effect at once), and a token is never trusted past its `exp`.
 */
export function cacheVerifiedTokens(verify: TokenVerifier, options: TokenCacheOptions = {}): TokenVerifier {
  const maxEntries = options.maxEntries ?? 10_000;
  const maxAgeMs = options.maxAgeMs ?? 60_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { result: VerifyResult & { ok: true }; validUntil: number }>();
  return async (token) => {
    if (token === undefined) return verify(token);
    const cached = cache.get(token);
    if (cached && cached.validUntil > now()) return cached.result;
    cache.delete(token);
    const result = await verify(token);
    if (result.ok) {
      if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
      cache.set(token, { result, validUntil: Math.min(now() + maxAgeMs, result.principal.expiresAt.getTime()) });
    }
    return result;
  };
}
