import { createSigner, createVerifier, TokenError, type Algorithm } from 'fast-jwt';
import type { CompactJWSHeaderParameters, JWK } from 'jose';
import { createPrivateKey, KeyObject, randomUUID, type JsonWebKey, type webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { createKeySet } from './createKeySet';

// The gateway vouches for every subgraph call with a token of its own
// (docs/adr/0011-signed-subgraph-calls.md): signed with a key pair used for
// nothing else, for one subgraph (`aud`), living seconds, carrying what the
// gateway decided about the request.

/** `iss` of internal tokens; a user token (issuer and key of the identity provider) never passes for one. */
export const INTERNAL_TOKEN_ISSUER = 'coherence-gateway';

/** The JOSE `typ` of internal tokens, checked, so no other JWT signed by the same key could be replayed as one. */
export const INTERNAL_TOKEN_TYPE = 'coherence-internal+jwt';

/** Longest lifetime (`exp` − `iat`) a subgraph accepts. */
export const INTERNAL_TOKEN_MAX_LIFETIME_SECONDS = 60;

/** What the gateway mints its tokens for: short, since each is minted right before its call. */
const MINTED_LIFETIME_SECONDS = 30;

/** Clock skew allowed between the gateway and a subgraph. */
const CLOCK_TOLERANCE_SECONDS = 5;

const ALGORITHMS = ['ES256', 'RS256'] as const satisfies readonly Algorithm[];
const isAlgorithm = (alg: string): alg is (typeof ALGORITHMS)[number] => (ALGORITHMS as readonly string[]).includes(alg);

/** What the gateway vouches for about the request a subgraph call belongs to. */
export interface InternalCaller {
  /** The verified subject of the client's token (audit rows record who acted). */
  subject: string;
  scopes: string[];
  /** Every tenant the policy let the operation touch: a call may name no other (operator listings name none). */
  tenantIds: string[];
  /** The gateway's region: comms answers operator fields for the tenants residing there only (ADR 0010). */
  region: string;
  /** Set while `region-routing` is on: the coherence subgraph reads that region's replica. */
  replicaRegion?: string;
  /** The gateway's request id, for logs and audit rows on both sides. */
  requestId: string;
}

const claimsSchema = z.object({
  aud: z.string(),
  sub: z.string().min(1),
  scope: z.string().transform((value) => value.split(' ').filter((part) => part.length > 0)),
  tenants: z.array(z.string()),
  region: z.string().min(1),
  replica_region: z.string().min(1).optional(),
  request_id: z.string().min(1),
  iat: z.number().int(),
  exp: z.number().int(),
});

/**
 * Signs internal tokens with the gateway's private JWK (a file; `kid` required, so subgraphs can tell the current key
 * from the previous one). Signing and verifying use `fast-jwt` (node:crypto, synchronous), not jose (WebCrypto): a
 * read signs one token per subgraph call and each subgraph verifies it, and WebCrypto's ECDSA cost about four times
 * node:crypto's (183 against 45 µs to sign, 230 against 89 µs to verify), most of it the job dispatch around the
 * signature (docs/adr/0011-signed-subgraph-calls.md).
 */
export async function createInternalTokenSigner(signingKeyPath: string) {
  const jwk = JSON.parse(await readFile(signingKeyPath, 'utf8')) as JWK;
  if (!jwk.kid) throw new Error(`${signingKeyPath}: the internal signing key has no kid`);
  const alg = jwk.alg ?? 'ES256';
  if (!isAlgorithm(alg)) throw new Error(`${signingKeyPath}: the internal signing key must be ${ALGORITHMS.join(' or ')}`);
  const sign = createSigner({
    key: createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' })
      .export({ format: 'pem', type: 'pkcs8' })
      .toString(),
    algorithm: alg,
    kid: jwk.kid,
    header: { alg, typ: INTERNAL_TOKEN_TYPE },
    iss: INTERNAL_TOKEN_ISSUER,
    expiresIn: MINTED_LIFETIME_SECONDS * 1_000,
  });
  return {
    /** A token for one call to the subgraph `audience`. */
    mint(audience: string, caller: InternalCaller): string {
      return sign({
        aud: audience,
        sub: caller.subject,
        jti: randomUUID(),
        scope: caller.scopes.join(' '),
        tenants: caller.tenantIds,
        region: caller.region,
        ...(caller.replicaRegion === undefined ? {} : { replica_region: caller.replicaRegion }),
        request_id: caller.requestId,
      });
    },
  };
}

export type InternalTokenSigner = Awaited<ReturnType<typeof createInternalTokenSigner>>;

/** Why a subgraph refused a call; each a 401 before anything is resolved. */
export type InternalTokenErrorCode =
  'INTERNAL_TOKEN_MISSING' | 'INTERNAL_TOKEN_EXPIRED' | 'INTERNAL_TOKEN_AUDIENCE_INVALID' | 'INTERNAL_TOKEN_INVALID';

export type InternalVerifyResult = { ok: true; caller: InternalCaller } | { ok: false; code: InternalTokenErrorCode; reason: string };

export interface InternalTokenVerifierOptions {
  /** The gateway's public keys: a JWKS file (or https:// URL) with the current key and, during a rotation, the previous one. */
  jwks: string;
  /** This subgraph's name: tokens minted for another subgraph are refused. */
  audience: string;
}

/**
 * Verifies the gateway's internal tokens for one subgraph. The key set (which
 * key a `kid` names, re-read on an unknown one) is the same as for user
 * tokens; `fast-jwt` checks the signature, `typ`, issuer, times and required
 * claims. The audience is checked here, so that a token for another subgraph
 * has a code of its own.
 */
export async function createInternalTokenVerifier(options: InternalTokenVerifierOptions) {
  const keySet = await createKeySet({ jwks: options.jwks });
  // One fast-jwt verifier per key, built when the key is first met: a verifier given its key as PEM parses it once,
  // where one that asks a callback for the key parses it again for every token (a `createPublicKey` per call, 8 % of
  // a subgraph's CPU on reads spread over many tenants).
  const verifierOf = new WeakMap<object, (token: string) => unknown>();
  const verifierFor = (key: object) => {
    let verifier = verifierOf.get(key);
    if (verifier === undefined) {
      const keyObject = key instanceof KeyObject ? key : KeyObject.from(key as webcrypto.CryptoKey);
      // Only the algorithm of the key's own type: an RSA key never checks an ES256 signature, nor the reverse.
      const algorithm = ({ ec: 'ES256', rsa: 'RS256' } as const)[keyObject.asymmetricKeyType as string];
      if (algorithm === undefined)
        throw new TokenError(TokenError.codes.invalidKey, `a ${keyObject.asymmetricKeyType} key verifies no token`);
      verifier = createVerifier({
        key: keyObject.export({ format: 'pem', type: 'spki' }).toString(),
        algorithms: [algorithm],
        checkTyp: INTERNAL_TOKEN_TYPE,
        allowedIss: INTERNAL_TOKEN_ISSUER,
        clockTolerance: CLOCK_TOLERANCE_SECONDS * 1_000,
        maxAge: INTERNAL_TOKEN_MAX_LIFETIME_SECONDS * 1_000,
        requiredClaims: ['iat', 'exp', 'sub', 'aud'],
      });
      verifierOf.set(key, verifier);
    }
    return verifier;
  };
  const verifyJwt = async (token: string): Promise<unknown> => {
    const header = headerOf(token);
    if (header === undefined || typeof header['alg'] !== 'string' || !isAlgorithm(header['alg']))
      throw new TokenError(TokenError.codes.malformed, 'not a JWT of an accepted algorithm');
    let key: object;
    try {
      key = await keySet(header as unknown as CompactJWSHeaderParameters, { payload: '', signature: '' });
    } catch (error) {
      throw TokenError.wrap(error as Error, TokenError.codes.keyFetchingError, 'no key of the gateway for this token');
    }
    return verifierFor(key)(token);
  };
  return async function verify(token: string | undefined): Promise<InternalVerifyResult> {
    if (!token) return { ok: false, code: 'INTERNAL_TOKEN_MISSING', reason: 'no internal token: subgraphs answer the gateway only' };
    let payload: unknown;
    try {
      payload = await verifyJwt(token);
    } catch (error) {
      return { ok: false, ...classify(error) };
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success)
      return {
        ok: false,
        code: 'INTERNAL_TOKEN_INVALID',
        reason: claims.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      };
    const { aud, sub, scope, tenants, region, replica_region, request_id, iat, exp } = claims.data;
    if (aud !== options.audience)
      return { ok: false, code: 'INTERNAL_TOKEN_AUDIENCE_INVALID', reason: 'the internal token was minted for another subgraph' };
    // A stolen token is good until it expires: bound that, whatever the signer wrote. An `iat` in the future would
    // stretch it past the bound (fast-jwt's maxAge only looks back; jose refused it, and so do we).
    if (iat > Date.now() / 1_000 + CLOCK_TOLERANCE_SECONDS)
      return { ok: false, code: 'INTERNAL_TOKEN_INVALID', reason: 'the internal token was issued in the future' };
    if (exp - iat > INTERNAL_TOKEN_MAX_LIFETIME_SECONDS)
      return {
        ok: false,
        code: 'INTERNAL_TOKEN_INVALID',
        reason: `the token lives longer than ${INTERNAL_TOKEN_MAX_LIFETIME_SECONDS} seconds`,
      };
    return {
      ok: true,
      caller: {
        subject: sub,
        scopes: scope,
        tenantIds: tenants,
        region,
        ...(replica_region === undefined ? {} : { replicaRegion: replica_region }),
        requestId: request_id,
      },
    };
  };
}

export type InternalTokenVerifier = Awaited<ReturnType<typeof createInternalTokenVerifier>>;

/** A token's JOSE header, or undefined when its first part is not base64url JSON of an object. */
function headerOf(token: string): Record<string, unknown> | undefined {
  const end = token.indexOf('.');
  if (end <= 0) return undefined;
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, end), 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null && !Array.isArray(header) ? (header as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function classify(error: unknown): { code: InternalTokenErrorCode; reason: string } {
  const code = error instanceof TokenError ? error.code : undefined;
  if (code === TokenError.codes.expired) return { code: 'INTERNAL_TOKEN_EXPIRED', reason: 'the internal token has expired' };
  if (code === TokenError.codes.invalidSignature || code === TokenError.codes.keyFetchingError)
    return { code: 'INTERNAL_TOKEN_INVALID', reason: 'the signature does not verify against the current or the previous gateway key' };
  if (code === TokenError.codes.malformed || code === TokenError.codes.invalidType || code === undefined)
    return { code: 'INTERNAL_TOKEN_INVALID', reason: 'the internal token is not a well-formed JWT of the gateway' };
  return { code: 'INTERNAL_TOKEN_INVALID', reason: (error as Error).message };
}
