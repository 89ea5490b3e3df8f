import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { readFile } from 'node:fs/promises';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { jwksSourceProblem } from './createKeySet';
import { createTokenVerifier } from './createTokenVerifier';
import { DEV_ISSUER, ensureDevKeys, mintDevToken } from './devKeys';

// Counts the real reads of the JWKS file; every call still goes to the file system.
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  return { ...actual, readFile: vi.fn(actual.readFile) };
});

const dir = mkdtempSync(join(tmpdir(), 'coherence-keyset-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const claims = { sub: 'user-1', tenant: 'acme', scopes: ['coherence:read:self'], residency: ['us'] };

/** A key the verifier does not trust (yet), and tokens signed with it under any kid. */
async function untrustedKey() {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const sign = (kid: string) =>
    new SignJWT({ tenant: 'acme', scope: 'coherence:read:self', residency: ['us'], client_id: 'web' })
      .setProtectedHeader({ alg: 'ES256', kid })
      .setIssuer(DEV_ISSUER)
      .setAudience('coherence')
      .setSubject('user-1')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
  return { sign, publicJwk: async (kid: string) => ({ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }) };
}

function addKey(jwksPath: string, jwk: object) {
  const jwks = JSON.parse(readFileSync(jwksPath, 'utf8')) as { keys: unknown[] };
  writeFileSync(jwksPath, JSON.stringify({ keys: [...jwks.keys, jwk] }));
}

const readsOf = (path: string) => vi.mocked(readFile).mock.calls.filter(([file]) => file === path).length;

describe('a JWKS file', () => {
  // Issue 13: every token naming an unknown kid re-read the file, so made-up kids were a flood of reads.
  it('is re-read once, not once per token, under a flood of unknown kids', async () => {
    const files = await ensureDevKeys(join(dir, 'flood'));
    const verify = await createTokenVerifier({ jwks: files.jwksPath, issuers: [DEV_ISSUER] });
    const attacker = await untrustedKey();
    const tokens = await Promise.all(Array.from({ length: 50 }, (_, i) => attacker.sign(`made-up-${i}`)));

    const results = await Promise.all(tokens.map((token) => verify(token)));

    expect(results.every((result) => !result.ok && result.code === 'TOKEN_SIGNATURE_INVALID')).toBe(true);
    // One read at start, one for the first unknown kid; the other 49 wait out the cooldown.
    expect(readsOf(files.jwksPath)).toBe(2);
    expect(await verify(await mintDevToken(files.privateKeyPath, claims))).toMatchObject({ ok: true });
  });

  it('finds a rotated-in key once the cooldown is over, and keeps the old key', async () => {
    const files = await ensureDevKeys(join(dir, 'rotated'));
    const verify = await createTokenVerifier({ jwks: files.jwksPath, issuers: [DEV_ISSUER], jwksRefreshCooldownMs: 300 });
    const rotated = await untrustedKey();

    // Asked for before it is published: the re-read finds nothing, and starts the cooldown.
    expect(await verify(await rotated.sign('key-2'))).toMatchObject({ ok: false, code: 'TOKEN_SIGNATURE_INVALID' });
    addKey(files.jwksPath, await rotated.publicJwk('key-2'));
    expect(await verify(await rotated.sign('key-2'))).toMatchObject({ ok: false, code: 'TOKEN_SIGNATURE_INVALID' });

    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await verify(await rotated.sign('key-2'))).toMatchObject({ ok: true, principal: { subject: 'user-1' } });
    expect(await verify(await mintDevToken(files.privateKeyPath, claims))).toMatchObject({ ok: true });
  });
});

describe('a verified token', () => {
  // A verification is reused for a minute (cacheVerifiedTokens): a key rotated out must stop verifying at once all the same.
  it('stops verifying once its key is rotated out of the file, although it verified a moment before', async () => {
    const files = await ensureDevKeys(join(dir, 'rotated-out'));
    const verify = await createTokenVerifier({ jwks: files.jwksPath, issuers: [DEV_ISSUER] });
    const oldToken = await mintDevToken(files.privateKeyPath, claims);
    expect(await verify(oldToken)).toMatchObject({ ok: true });
    expect(await verify(oldToken)).toMatchObject({ ok: true });

    const rotated = await untrustedKey();
    writeFileSync(files.jwksPath, JSON.stringify({ keys: [await rotated.publicJwk('key-2')] }));
    // A token of the new key names a kid the verifier does not know: the file is read again.
    expect(await verify(await rotated.sign('key-2'))).toMatchObject({ ok: true });
    expect(await verify(oldToken)).toMatchObject({ ok: false, code: 'TOKEN_SIGNATURE_INVALID' });
  });
});

describe('a JWKS URL', () => {
  // Issue 13: http:// was accepted, so whoever sits on the path could serve their own keys.
  it('is refused unless https, before anything is fetched', async () => {
    const files = await ensureDevKeys(join(dir, 'http'));
    let requests = 0;
    const server = createServer((_request, response) => {
      requests += 1;
      response.setHeader('content-type', 'application/json').end(readFileSync(files.jwksPath));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
      await expect(createTokenVerifier({ jwks: url, issuers: [DEV_ISSUER] })).rejects.toThrow('a JWKS URL must be https://');
      expect(requests).toBe(0);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it.each([
    ['https://idp.example/.well-known/jwks.json', undefined],
    ['.data/stack/keys/dev-jwks.json', undefined],
    ['/etc/coherence/jwks.json', undefined],
    ['HTTP://idp.example/jwks.json', 'a JWKS URL must be https:// (got HTTP://); give a file as a path'],
    ['file:///etc/coherence/jwks.json', 'a JWKS URL must be https:// (got file://); give a file as a path'],
  ])('%s: %s', (jwks, problem) => {
    expect(jwksSourceProblem(jwks)).toBe(problem);
  });
});
