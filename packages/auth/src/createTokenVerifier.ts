import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { readFile } from 'node:fs/promises';
import { TOKEN_AUDIENCE, tokenClaimsSchema, toPrincipal, type Principal } from './tokenClaims';

/** Why a token was refused; stable, safe to show to the caller. */
export type TokenErrorCode =
  | 'TOKEN_MISSING'
  | 'TOKEN_MALFORMED'
  | 'TOKEN_EXPIRED'
  | 'TOKEN_SIGNATURE_INVALID'
  | 'TOKEN_AUDIENCE_INVALID'
  | 'TOKEN_ISSUER_INVALID'
  | 'TOKEN_CLAIMS_INVALID';

export type VerifyResult = { ok: true; principal: Principal } | { ok: false; code: TokenErrorCode; reason: string };

export interface TokenVerifierOptions {
  /** A JWKS file path or an http(s) URL serving one. */
  jwks: string;
  /** Accepted `iss` values. */
  issuers: readonly string[];
  /** Default `coherence`. */
  audience?: string;
  /** Leeway for `exp`/`nbf`, in seconds. Default 30. */
  clockToleranceSeconds?: number;
}

/**
 * Loads the key set: a URL is fetched by jose (cached, refetched when a
 * token names an unknown `kid`, so key rotation needs no restart); a file is
 * re-read when a token names an unknown `kid`, for the same reason.
 */
async function createKeySet(jwks: string): Promise<JWTVerifyGetKey> {
  if (/^https?:\/\//.test(jwks)) return createRemoteJWKSet(new URL(jwks));
  const load = async () => createLocalJWKSet(JSON.parse(await readFile(jwks, 'utf8')) as JSONWebKeySet);
  let current = await load();
  return async (header, token) => {
    try {
      return await current(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      current = await load();
      return current(header, token);
    }
  };
}

/** Verifies bearer tokens: signature against the JWKS, audience, issuer, expiry, and the claims we need. */
export async function createTokenVerifier(options: TokenVerifierOptions) {
  const keySet = await createKeySet(options.jwks);
  const audience = options.audience ?? TOKEN_AUDIENCE;
  return async function verify(token: string | undefined): Promise<VerifyResult> {
    if (!token) return { ok: false, code: 'TOKEN_MISSING', reason: 'no bearer token' };
    try {
      const { payload } = await jwtVerify(token, keySet, {
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
      return { ok: true, principal: toPrincipal(claims.data) };
    } catch (error) {
      return { ok: false, ...classify(error) };
    }
  };
}

export type TokenVerifier = Awaited<ReturnType<typeof createTokenVerifier>>;

function classify(error: unknown): { code: TokenErrorCode; reason: string } {
  if (error instanceof errors.JWTExpired) return { code: 'TOKEN_EXPIRED', reason: 'the token has expired' };
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return { code: 'TOKEN_AUDIENCE_INVALID', reason: 'the token is not for this audience' };
    if (error.claim === 'iss') return { code: 'TOKEN_ISSUER_INVALID', reason: 'the token issuer is not trusted' };
    return { code: 'TOKEN_CLAIMS_INVALID', reason: `claim ${error.claim}: ${error.reason}` };
  }
  if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JWKSNoMatchingKey) {
    return { code: 'TOKEN_SIGNATURE_INVALID', reason: 'the signature does not verify against a trusted key' };
  }
  return { code: 'TOKEN_MALFORMED', reason: 'the token is not a well-formed JWT' };
}
