import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractBearerToken } from './bearerToken';
import { createTokenVerifier, type TokenVerifier } from './createTokenVerifier';
import { DEV_ISSUER, ensureDevKeys, mintDevToken, type DevKeyFiles } from './devKeys';

const dir = mkdtempSync(join(tmpdir(), 'coherence-auth-'));
let keys: DevKeyFiles;
let verify: TokenVerifier;

const claims = { sub: 'user-1', tenant: 'acme', scopes: ['coherence:read:self'], residency: ['us'] };

beforeAll(async () => {
  keys = await ensureDevKeys(join(dir, 'keys'));
  verify = await createTokenVerifier({ jwks: keys.jwksPath, issuers: [DEV_ISSUER] });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DAY_SECONDS = 86_400;

/** A dev-key token whose `iat` and `exp` are these offsets from now, in seconds (no `iat` when absent). */
async function signWithDevKey(times: { iat?: number; exp: number }) {
  const jwk = JSON.parse(readFileSync(keys.privateKeyPath, 'utf8')) as JWK;
  const now = Math.floor(Date.now() / 1_000);
  const jwt = new SignJWT({ tenant: 'acme', scope: 'coherence:read:self', residency: ['us'], client_id: 'web' })
    .setProtectedHeader({ alg: 'ES256', kid: jwk.kid ?? 'dev' })
    .setIssuer(DEV_ISSUER)
    .setAudience('coherence')
    .setSubject('user-1')
    .setExpirationTime(now + times.exp);
  if (times.iat !== undefined) jwt.setIssuedAt(now + times.iat);
  return jwt.sign(await importJWK(jwk, 'ES256'));
}

/** A key pair the verifier does not trust, with the same kid shape as the dev key. */
async function foreignKey(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

describe('createTokenVerifier', () => {
  it('accepts a dev token and maps its claims to a principal', async () => {
    const result = await verify(await mintDevToken(keys.privateKeyPath, { ...claims, clientId: 'web' }));
    expect(result).toEqual({
      ok: true,
      principal: {
        subject: 'user-1',
        tenantId: 'acme',
        scopes: ['coherence:read:self'],
        residency: ['us'],
        clientId: 'web',
        issuer: DEV_ISSUER,
        expiresAt: expect.any(Date),
        issuedAt: expect.any(Date),
      },
    });
  });

  it('carries iat as issuedAt, for the token-age rule of break glass', async () => {
    const issuedAt = new Date(Date.now() - 20 * 60_000);
    const result = await verify(await mintDevToken(keys.privateKeyPath, { ...claims, issuedAt }));
    expect(result).toMatchObject({ ok: true, principal: { issuedAt: new Date(Math.floor(issuedAt.getTime() / 1_000) * 1_000) } });
  });

  it('refuses a missing token', async () => {
    expect(await verify(undefined)).toMatchObject({ ok: false, code: 'TOKEN_MISSING' });
  });

  it('refuses something that is not a JWT', async () => {
    expect(await verify('not.a.jwt')).toMatchObject({ ok: false, code: 'TOKEN_MALFORMED' });
  });

  it('refuses a forged signature (same kid, another key)', async () => {
    const { kid } = JSON.parse(readFileSync(keys.privateKeyPath, 'utf8')) as { kid: string };
    const { privateKey } = await foreignKey(kid);
    const forged = await new SignJWT({ tenant: 'acme', scope: 'coherence:read', residency: ['us'], client_id: 'x' })
      .setProtectedHeader({ alg: 'ES256', kid })
      .setIssuer(DEV_ISSUER)
      .setAudience('coherence')
      .setSubject('mallory')
      .setExpirationTime('5m')
      .sign(privateKey);
    expect(await verify(forged)).toMatchObject({ ok: false, code: 'TOKEN_SIGNATURE_INVALID' });
  });

  it('refuses an expired token, beyond the clock tolerance', async () => {
    const token = await mintDevToken(keys.privateKeyPath, { ...claims, ttlSeconds: -120 });
    expect(await verify(token)).toMatchObject({ ok: false, code: 'TOKEN_EXPIRED' });
  });

  it('refuses a token for another audience', async () => {
    const token = await mintDevToken(keys.privateKeyPath, { ...claims, audience: 'someone-else' });
    expect(await verify(token)).toMatchObject({ ok: false, code: 'TOKEN_AUDIENCE_INVALID' });
  });

  it('refuses a token from an untrusted issuer', async () => {
    const token = await mintDevToken(keys.privateKeyPath, { ...claims, issuer: 'https://evil.example' });
    expect(await verify(token)).toMatchObject({ ok: false, code: 'TOKEN_ISSUER_INVALID' });
  });

  it('refuses a signed token without the claims we need', async () => {
    const jwk = JSON.parse(readFileSync(keys.privateKeyPath, 'utf8')) as JWK;
    const token = await new SignJWT({ scope: 'coherence:read' })
      .setProtectedHeader({ alg: 'ES256', kid: jwk.kid ?? 'dev' })
      .setIssuer(DEV_ISSUER)
      .setAudience('coherence')
      .setSubject('user-1')
      .setExpirationTime('5m')
      .sign(await importJWK(jwk, 'ES256'));
    const result = await verify(token);
    expect(result).toMatchObject({ ok: false, code: 'TOKEN_CLAIMS_INVALID' });
    expect(!result.ok && result.reason).toContain('tenant');
  });

  // Signed by a trusted key, but with claims no store or header downstream can carry: a 401, never a 500 (issue 12).
  it.each([
    ['a 300-character sub', { sub: 'u'.repeat(300) }, 'sub'],
    ['a sub with a NUL', { sub: 'user\u0000-1' }, 'sub'],
    ['a sub with a line break (it becomes a header)', { sub: 'user\r\nx-evil: 1' }, 'sub'],
    ['a non-ASCII sub', { sub: 'jürgen' }, 'sub'],
    ['a tenant with a space', { tenant: 'ac me' }, 'tenant'],
    ['a 129-character tenant', { tenant: 'a'.repeat(129) }, 'tenant'],
    ['a client_id with a NUL', { clientId: 'web\u0000' }, 'client_id'],
    ['a residency entry of 65 characters', { residency: ['r'.repeat(65)] }, 'residency'],
  ])('refuses %s with TOKEN_CLAIMS_INVALID naming the claim', async (_name, override, claim) => {
    const result = await verify(await mintDevToken(keys.privateKeyPath, { ...claims, ...override }));
    expect(result).toMatchObject({ ok: false, code: 'TOKEN_CLAIMS_INVALID' });
    expect(!result.ok && result.reason).toContain(claim);
  });

  it('accepts claims at their bounds: a 255-character sub, a 128-character tenant', async () => {
    const result = await verify(await mintDevToken(keys.privateKeyPath, { ...claims, sub: 'u'.repeat(255), tenant: 't'.repeat(128) }));
    expect(result).toMatchObject({ ok: true, principal: { subject: 'u'.repeat(255), tenantId: 't'.repeat(128) } });
  });

  // Issue 13: only ES256 and RS256; an RSA key that declared no `alg` also verified RS512 and PS256 tokens.
  it.each(['PS256', 'RS512'])('refuses %s, even from a trusted RSA key that declares no algorithm', async (alg) => {
    const rsaDir = join(dir, `rsa-${alg}`);
    mkdirSync(rsaDir);
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const { alg: _declared, ...publicJwk } = await exportJWK(publicKey);
    writeFileSync(join(rsaDir, 'jwks.json'), JSON.stringify({ keys: [{ ...publicJwk, kid: 'rsa-1', use: 'sig' }] }));
    const verifyRsa = await createTokenVerifier({ jwks: join(rsaDir, 'jwks.json'), issuers: [DEV_ISSUER] });
    const privateJwk = await exportJWK(privateKey);
    const sign = async (signingAlg: string) =>
      new SignJWT({ tenant: 'acme', scope: 'coherence:read:self', residency: ['us'], client_id: 'web' })
        .setProtectedHeader({ alg: signingAlg, kid: 'rsa-1' })
        .setIssuer(DEV_ISSUER)
        .setAudience('coherence')
        .setSubject('user-1')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(await importJWK(privateJwk, signingAlg));

    expect(await verifyRsa(await sign('RS256'))).toMatchObject({ ok: true });
    expect(await verifyRsa(await sign(alg))).toMatchObject({ ok: false, code: 'TOKEN_ALGORITHM_INVALID' });
  });

  // Issue 13: any lifetime was accepted, so a leaked long-lived token stayed good for as long.
  it('refuses a token minted for 30 days with TOKEN_CLAIMS_INVALID on exp', async () => {
    const result = await verify(await mintDevToken(keys.privateKeyPath, { ...claims, ttlSeconds: 30 * DAY_SECONDS }));
    expect(result).toMatchObject({ ok: false, code: 'TOKEN_CLAIMS_INVALID' });
    expect(!result.ok && result.reason).toContain('exp');
  });

  it.each([
    ['issued 29 days ago for 30 (one day left)', { iat: -29 * DAY_SECONDS, exp: DAY_SECONDS }],
    ['without iat, expiring in 30 days', { exp: 30 * DAY_SECONDS }],
    ['claiming to be issued in 29 days, to look short-lived', { iat: 29 * DAY_SECONDS, exp: 30 * DAY_SECONDS }],
  ])('refuses a token %s', async (_name, times) => {
    expect(await verify(await signWithDevKey(times))).toMatchObject({ ok: false, code: 'TOKEN_CLAIMS_INVALID' });
  });

  it('accepts a lifetime up to the maximum: 24 hours by default, or as configured', async () => {
    expect(await verify(await mintDevToken(keys.privateKeyPath, { ...claims, ttlSeconds: DAY_SECONDS }))).toMatchObject({ ok: true });
    const verifyShort = await createTokenVerifier({ jwks: keys.jwksPath, issuers: [DEV_ISSUER], maxLifetimeSeconds: 600 });
    expect(await verifyShort(await mintDevToken(keys.privateKeyPath, { ...claims, ttlSeconds: 600 }))).toMatchObject({ ok: true });
    expect(await verifyShort(await mintDevToken(keys.privateKeyPath, { ...claims, ttlSeconds: 601 }))).toMatchObject({
      ok: false,
      code: 'TOKEN_CLAIMS_INVALID',
    });
  });
});

describe('extractBearerToken', () => {
  it('takes the token from the Authorization header', () => {
    expect(extractBearerToken({ authorization: 'Bearer abc.def.ghi' }, '/graphql')).toEqual({ ok: true, token: 'abc.def.ghi' });
  });

  it('reports no token when the header is missing or not a bearer', () => {
    expect(extractBearerToken({}, '/graphql')).toEqual({ ok: true, token: undefined });
    expect(extractBearerToken({ authorization: 'Basic dXNlcjpwYXNz' }, '/graphql')).toEqual({ ok: true, token: undefined });
  });

  it.each(['access_token', 'token', 'jwt', 'authorization'])('refuses a token in the query string as %s', (name) => {
    const result = extractBearerToken({ authorization: 'Bearer abc' }, `/graphql?${name}=abc.def.ghi`);
    expect(result).toMatchObject({ ok: false, code: 'TOKEN_IN_QUERY_STRING' });
  });

  // Issue 13: the names were matched case-sensitively, so `?Access_Token=` went through and into the logs.
  it.each(['Access_Token', 'TOKEN', 'Jwt', 'AUTHORIZATION'])('refuses a token in the query string as %s, whatever the case', (name) => {
    const result = extractBearerToken({ authorization: 'Bearer abc' }, `/graphql?id=1&${name}=abc.def.ghi`);
    expect(result).toMatchObject({ ok: false, code: 'TOKEN_IN_QUERY_STRING' });
  });

  it('lets other query parameters through', () => {
    expect(extractBearerToken({}, '/graphql?documentId=sha256:abc&tokens=1')).toEqual({ ok: true, token: undefined });
  });
});
