import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { createHmac, createPublicKey, type JsonWebKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_INTERNAL_KEY_FILE_NAMES, ensureDevInternalKeys } from './devKeys';
import {
  createInternalTokenSigner,
  createInternalTokenVerifier,
  INTERNAL_TOKEN_ISSUER,
  INTERNAL_TOKEN_TYPE,
  type InternalCaller,
} from './internalToken';
import { internalKeyTrustCheck } from './tokenTrustCheck';
import { z } from 'zod';

const dir = mkdtempSync(join(tmpdir(), 'coherence-internal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const caller: InternalCaller = {
  subject: 'ops-dana',
  scopes: ['comms:operate'],
  tenantIds: ['acme'],
  region: 'us',
  replicaRegion: 'eu',
  requestId: 'req-1',
};

/** A key pair written as the gateway's private JWK file, and its public JWK. */
async function keyPair(name: string) {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const privateKeyPath = join(dir, `${name}.jwk.json`);
  writeFileSync(privateKeyPath, JSON.stringify({ ...(await exportJWK(privateKey)), kid: name, alg: 'ES256' }));
  return { privateKeyPath, publicJwk: { ...(await exportJWK(publicKey)), kid: name, alg: 'ES256', use: 'sig' } };
}

let current: Awaited<ReturnType<typeof keyPair>>;
let previous: Awaited<ReturnType<typeof keyPair>>;
let retired: Awaited<ReturnType<typeof keyPair>>;
let jwksPath: string;

beforeAll(async () => {
  [current, previous, retired] = await Promise.all([keyPair('current'), keyPair('previous'), keyPair('retired')]);
  jwksPath = join(dir, 'internal-jwks.json');
  writeFileSync(jwksPath, JSON.stringify({ keys: [current.publicJwk, previous.publicJwk] }));
});

const verifierFor = (audience: string) => createInternalTokenVerifier({ jwks: jwksPath, audience });
const mint = async (privateKeyPath: string, audience = 'comms') => (await createInternalTokenSigner(privateKeyPath)).mint(audience, caller);

/** A token signed with the current key whose claims and header the test sets. */
async function signed(edit: (jwt: SignJWT) => SignJWT, header: Record<string, string> = {}) {
  const jwk = JSON.parse(readFileSync(current.privateKeyPath, 'utf8')) as JWK;
  const jwt = new SignJWT({ scope: 'comms:operate', tenants: ['acme'], region: 'us', request_id: 'req-1' })
    .setProtectedHeader({ alg: 'ES256', kid: 'current', typ: INTERNAL_TOKEN_TYPE, ...header })
    .setIssuer(INTERNAL_TOKEN_ISSUER)
    .setAudience('comms')
    .setSubject('ops-dana');
  return edit(jwt).sign(await importJWK(jwk, 'ES256'));
}

const nowSeconds = () => Math.floor(Date.now() / 1_000);

describe('internal tokens', () => {
  it('carry what the gateway vouches for to the subgraph they were minted for', async () => {
    const verify = await verifierFor('comms');
    expect(await verify(await mint(current.privateKeyPath))).toEqual({ ok: true, caller });
  });

  it('are accepted signed with the current or the previous key, and refused with a third', async () => {
    const verify = await verifierFor('comms');
    expect((await verify(await mint(current.privateKeyPath))).ok).toBe(true);
    expect((await verify(await mint(previous.privateKeyPath))).ok).toBe(true);
    expect(await verify(await mint(retired.privateKeyPath))).toMatchObject({ ok: false, code: 'INTERNAL_TOKEN_INVALID' });
  });

  it('are refused by another subgraph', async () => {
    const verify = await verifierFor('ingest');
    expect(await verify(await mint(current.privateKeyPath, 'comms'))).toMatchObject({ ok: false, code: 'INTERNAL_TOKEN_AUDIENCE_INVALID' });
  });

  it('are refused when missing, expired, too long-lived, issued in the future, of another type or issuer, or not JWTs', async () => {
    const verify = await verifierFor('comms');
    expect(await verify(undefined)).toMatchObject({ ok: false, code: 'INTERNAL_TOKEN_MISSING' });
    expect(await verify('')).toMatchObject({ ok: false, code: 'INTERNAL_TOKEN_MISSING' });
    const expired = await signed((jwt) => jwt.setIssuedAt(nowSeconds() - 50).setExpirationTime(nowSeconds() - 10));
    expect(await verify(expired)).toMatchObject({ ok: false, code: 'INTERNAL_TOKEN_EXPIRED' });
    const longLived = await signed((jwt) => jwt.setIssuedAt(nowSeconds()).setExpirationTime(nowSeconds() + 3_600));
    expect(await verify(longLived)).toMatchObject({ ok: false, code: 'INTERNAL_TOKEN_INVALID' });
    const issuedLater = await signed((jwt) => jwt.setIssuedAt(nowSeconds() + 3_600).setExpirationTime(nowSeconds() + 3_630));
    expect(await verify(issuedLater)).toMatchObject({ ok: false, code: 'INTERNAL_TOKEN_INVALID', reason: expect.stringMatching(/future/) });
    const noIat = await signed((jwt) => jwt.setExpirationTime(nowSeconds() + 30));
    expect(await verify(noIat)).toMatchObject({ ok: false, code: 'INTERNAL_TOKEN_INVALID' });
    const userTyped = await signed((jwt) => jwt.setIssuedAt().setExpirationTime('30s'), { typ: 'JWT' });
    expect(await verify(userTyped)).toMatchObject({ ok: false, code: 'INTERNAL_TOKEN_INVALID' });
    const otherIssuer = await signed((jwt) => jwt.setIssuer('coherence-dev').setIssuedAt().setExpirationTime('30s'));
    expect(await verify(otherIssuer)).toMatchObject({ ok: false, code: 'INTERNAL_TOKEN_INVALID' });
    expect(await verify('not.a.jwt')).toMatchObject({ ok: false, code: 'INTERNAL_TOKEN_INVALID' });
    // The control: the same construction with valid times passes.
    expect((await verify(await signed((jwt) => jwt.setIssuedAt().setExpirationTime('30s')))).ok).toBe(true);
  });

  it('are refused unsigned, or signed with the public key as an HMAC secret', async () => {
    const verify = await verifierFor('comms');
    const claims = {
      iss: INTERNAL_TOKEN_ISSUER,
      aud: 'comms',
      sub: 'ops-dana',
      scope: 'comms:operate',
      tenants: ['acme'],
      region: 'us',
      request_id: 'r',
    };
    const now = nowSeconds();
    const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
    const body = encode({ ...claims, iat: now, exp: now + 30 });
    const unsigned = `${encode({ alg: 'none', kid: 'current', typ: INTERNAL_TOKEN_TYPE })}.${body}.`;
    expect(await verify(unsigned)).toMatchObject({ ok: false, code: 'INTERNAL_TOKEN_INVALID' });
    const publicPem = createPublicKey({ key: current.publicJwk as JsonWebKey, format: 'jwk' }).export({ format: 'pem', type: 'spki' });
    const header = encode({ alg: 'HS256', kid: 'current', typ: INTERNAL_TOKEN_TYPE });
    const mac = createHmac('sha256', publicPem).update(`${header}.${body}`).digest('base64url');
    expect(await verify(`${header}.${body}.${mac}`)).toMatchObject({ ok: false, code: 'INTERNAL_TOKEN_INVALID' });
  });

  it('name their key, type and issuer in what they carry', async () => {
    const token = await mint(current.privateKeyPath);
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as Record<string, string>;
    expect(header).toEqual({ alg: 'ES256', kid: 'current', typ: INTERNAL_TOKEN_TYPE });
  });

  it('live at most 60 seconds as minted', async () => {
    const token = await mint(current.privateKeyPath);
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as {
      iat: number;
      exp: number;
      jti: string;
    };
    expect(payload.exp - payload.iat).toBeLessThanOrEqual(60);
    expect(payload.jti).toEqual(expect.any(String));
  });

  it('need a signing key with a kid', async () => {
    const path = join(dir, 'no-kid.jwk.json');
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    writeFileSync(path, JSON.stringify(await exportJWK(privateKey)));
    await expect(createInternalTokenSigner(path)).rejects.toThrow(/no kid/);
  });
});

describe('internalKeyTrustCheck', () => {
  const schema = z.object({ KEY: z.string(), NODE_ENV: z.string().optional() });
  const problems = (holds: 'signingKey' | 'jwks', env: Record<string, string>) => {
    const result = schema.superRefine(internalKeyTrustCheck('KEY', holds)).safeParse(env);
    return result.success ? [] : result.error.issues.map((issue) => issue.message);
  };

  it('refuses the dev internal pair when NODE_ENV=production, and allows it otherwise', async () => {
    const dev = await ensureDevInternalKeys(join(dir, 'dev'));
    expect(problems('signingKey', { KEY: dev.privateKeyPath, NODE_ENV: 'production' })).toEqual([
      `the dev internal key (${DEV_INTERNAL_KEY_FILE_NAMES.privateKey}) is refused when NODE_ENV=production`,
    ]);
    expect(problems('jwks', { KEY: dev.jwksPath, NODE_ENV: 'production' })).toEqual([
      `the dev internal key (${DEV_INTERNAL_KEY_FILE_NAMES.jwks}) is refused when NODE_ENV=production`,
    ]);
    expect(problems('signingKey', { KEY: dev.privateKeyPath })).toEqual([]);
    expect(problems('jwks', { KEY: '/etc/coherence/internal-jwks.json', NODE_ENV: 'production' })).toEqual([]);
  });

  it('refuses a key set over plain http', () => {
    expect(problems('jwks', { KEY: 'http://keys.internal/jwks.json' })).toEqual([
      'a JWKS URL must be https:// (got http://); give a file as a path',
    ]);
  });
});
