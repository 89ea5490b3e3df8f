import { errors, jwtVerify } from 'jose';
import { cacheVerifiedTokens } from './cacheVerifiedTokens';
import { createKeySet } from './createKeySet';
import { TOKEN_AUDIENCE, tokenClaimsSchema, toPrincipal, type Principal } from './tokenClaims';

/** Why a token was refused; stable, safe to show to the caller. */
export type TokenErrorCode =
  | 'TOKEN_MISSING'
  | 'TOKEN_MALFORMED'
  | 'TOKEN_EXPIRED'
  | 'TOKEN_SIGNATURE_INVALID'
  | 'TOKEN_ALGORITHM_INVALID'
  | 'TOKEN_AUDIENCE_INVALID'
  | 'TOKEN_ISSUER_INVALID'
  | 'TOKEN_CLAIMS_INVALID';

export type VerifyResult = { ok: true; principal: Principal } | { ok: false; code: TokenErrorCode; reason: string };

/** Longest token lifetime (`exp` − `iat`) the services accept unless configured otherwise: one day. */
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 86_400;

export interface TokenVerifierOptions {
  /** A JWKS file path or an `https://` URL serving one. */
  jwks: string;
  /** Least time between two JWKS reloads caused by tokens naming an unknown `kid`, in milliseconds. Default 30_000. */
  jwksRefreshCooldownMs?: number;
  /** Accepted `iss` values. */
  issuers: readonly string[];
  /** Default `coherence`. */
  audience?: string;
  /** Leeway for `exp`/`nbf`, in seconds. Default 30. */
  clockToleranceSeconds?: number;
  /** Longest accepted lifetime, `exp` − `iat` (or − now when `iat` is absent or later), in seconds. Default 86_400. */
  maxLifetimeSeconds?: number;
  /** How long a token's successful verification is reused (see cacheVerifiedTokens), in milliseconds; 0 verifies every time. Default 60_000. */
  cacheMaxAgeMs?: number;
}

/**
 * The signing algorithms accepted, checked before any key is looked up. A key
 * that declares its `alg` is used with that one only; without this list, an
 * RSA key that declares none would also verify RS384/RS512/PS* tokens.
 */
const ALGORITHMS = ['ES256', 'RS256'];

/**
 * Verifies bearer tokens: algorithm and signature against the JWKS, audience,
 * issuer, expiry, lifetime, and the claims we need. A token that verified is
 * not checked again for a minute, under the same keys and never past its
 * `exp` (cacheVerifiedTokens).
 */
export async function createTokenVerifier(options: TokenVerifierOptions): Promise<TokenVerifier> {
  const keySet = await createKeySet({ jwks: options.jwks, refreshCooldownMs: options.jwksRefreshCooldownMs });
  const audience = options.audience ?? TOKEN_AUDIENCE;
  const maxLifetimeSeconds = options.maxLifetimeSeconds ?? DEFAULT_MAX_TOKEN_LIFETIME_SECONDS;
  const cacheMaxAgeMs = options.cacheMaxAgeMs ?? 60_000;
  const verify = async (token: string | undefined): Promise<VerifyResult> => {
    if (!token) return { ok: false, code: 'TOKEN_MISSING', reason: 'no bearer token' };
    try {
      const { payload } = await jwtVerify(token, keySet, {
        algorithms: ALGORITHMS,
        audience,
        issuer: [...options.issuers],
        clockTolerance: options.clockToleranceSeconds ?? 30,
        requiredClaims: ['exp', 'sub'],
      });
      const claims = tokenClaimsSchema.safeParse(payload);
      if (!claims.success) {
        return {
          ok: false,
          code: 'TOKEN_CLAIMS_INVALID',
          reason: claims.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
        };
      }
      // A leaked token is good until it expires: bound that, whatever the issuer minted.
      const nowSeconds = Math.floor(Date.now() / 1_000);
      const lifetimeSeconds = claims.data.exp - Math.min(payload.iat ?? nowSeconds, nowSeconds);
      if (lifetimeSeconds > maxLifetimeSeconds) {
        return { ok: false, code: 'TOKEN_CLAIMS_INVALID', reason: `exp: the token lives longer than ${maxLifetimeSeconds} seconds` };
      }
      return { ok: true, principal: toPrincipal(claims.data) };
    } catch (error) {
      return { ok: false, ...classify(error) };
    }
  };
  return cacheMaxAgeMs > 0 ? cacheVerifiedTokens(verify, { maxAgeMs: cacheMaxAgeMs, generation: keySet.generation }) : verify;
}

export type TokenVerifier = (token: string | undefined) => Promise<VerifyResult>;

function classify(error: unknown): { code: TokenErrorCode; reason: string } {
  if (error instanceof errors.JWTExpired) return { code: 'TOKEN_EXPIRED', reason: 'the token has expired' };
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return { code: 'TOKEN_AUDIENCE_INVALID', reason: 'the token is not for this audience' };
    if (error.claim === 'iss') return { code: 'TOKEN_ISSUER_INVALID', reason: 'the token issuer is not trusted' };
    return { code: 'TOKEN_CLAIMS_INVALID', reason: `claim ${error.claim}: ${error.reason}` };
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return { code: 'TOKEN_ALGORITHM_INVALID', reason: `the token is not signed with ${ALGORITHMS.join(' or ')}` };
  }
  if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JWKSNoMatchingKey) {
    return { code: 'TOKEN_SIGNATURE_INVALID', reason: 'the signature does not verify against a trusted key' };
  }
  return { code: 'TOKEN_MALFORMED', reason: 'the token is not a well-formed JWT' };
}
