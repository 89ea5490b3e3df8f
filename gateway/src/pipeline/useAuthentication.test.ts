import { createTokenVerifier, DEV_ISSUER, ensureDevKeys, mintDevToken, type DevKeyFiles } from '@coherence/auth';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthDenial } from '../auth/createAuthDenialRecorder';
import type { GatewayStep } from './GatewayStep';
import { testContext } from './testContext';
import { useAuthentication } from './useAuthentication';

const work = mkdtempSync(join(tmpdir(), 'coherence-auth-step-'));
let keys: DevKeyFiles;
let step: GatewayStep;
const denials: AuthDenial[] = [];

beforeAll(async () => {
  keys = await ensureDevKeys(work);
  const verifyToken = await createTokenVerifier({ jwks: keys.jwksPath, issuers: [DEV_ISSUER] });
  step = useAuthentication({ verifyToken, recordAuthDenial: (denial) => void denials.push(denial) });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('useAuthentication', () => {
  it('sets the principal of a valid bearer token', async () => {
    const token = await mintDevToken(keys.privateKeyPath, {
      sub: 'u-1',
      tenant: 'acme',
      scopes: ['coherence:read:self'],
      residency: ['us'],
    });
    const context = testContext({ credentials: { headers: { authorization: `Bearer ${token}` }, url: '/graphql' } });
    expect(await step.onRequest!(context)).toBeUndefined();
    expect(context.principal).toMatchObject({ subject: 'u-1', tenantId: 'acme' });
  });

  it.each([
    ['no token', { headers: {}, url: '/graphql' }, 'TOKEN_MISSING'],
    ['a token in the query string', { headers: {}, url: '/graphql?access_token=x' }, 'TOKEN_IN_QUERY_STRING'],
    ['a token that does not verify', { headers: { authorization: 'Bearer not.a.jwt' } }, 'TOKEN_MALFORMED'],
  ])('refuses %s as UNAUTHENTICATED, recorded with the correlation id', async (_name, credentials, reasonCode) => {
    denials.length = 0;
    const context = testContext({ credentials: { url: '/graphql', ...credentials } });
    expect(await step.onRequest!(context)).toMatchObject({ code: 'UNAUTHENTICATED', extensions: { reasonCode } });
    expect(context.principal).toBeUndefined();
    expect(denials).toEqual([expect.objectContaining({ code: reasonCode, correlationId: 'test-correlation' })]);
  });
});
