import type { Principal } from './tokenClaims';
import type { VerifyResult } from './createTokenVerifier';
import { describe, expect, it } from 'vitest';
import { cacheVerifiedTokens } from './cacheVerifiedTokens';

const principal = (expiresAt: number): Principal => ({
  subject: 's',
  tenantId: 't',
  scopes: [],
  residency: [],
  clientId: 'c',
  issuer: 'i',
  expiresAt: new Date(expiresAt),
});

function counting(result: (token: string | undefined) => VerifyResult) {
  const calls: (string | undefined)[] = [];
  return { calls, verify: async (token: string | undefined) => (calls.push(token), result(token)) };
}

describe('cacheVerifiedTokens', () => {
  it('verifies a good token once within maxAgeMs, again after', async () => {
    let clock = 0;
    const inner = counting(() => ({ ok: true, principal: principal(1_000_000) }));
    const verify = cacheVerifiedTokens(inner.verify, { maxAgeMs: 100, now: () => clock });
    await verify('a');
    await verify('a');
    expect(inner.calls).toEqual(['a']);
    clock = 101;
    await verify('a');
    expect(inner.calls).toEqual(['a', 'a']);
  });

  it('never trusts a token past its exp, and never caches refusals', async () => {
    let clock = 0;
    const inner = counting((token) =>
      token === 'bad' ? { ok: false, code: 'TOKEN_MALFORMED', reason: 'x' } : { ok: true, principal: principal(50) },
    );
    const verify = cacheVerifiedTokens(inner.verify, { maxAgeMs: 1_000, now: () => clock });
    await verify('short');
    clock = 51;
    await verify('short');
    await verify('bad');
    await verify('bad');
    expect(inner.calls).toEqual(['short', 'short', 'bad', 'bad']);
  });

  it('forgets the oldest token beyond maxEntries', async () => {
    const inner = counting(() => ({ ok: true, principal: principal(Date.now() + 60_000) }));
    const verify = cacheVerifiedTokens(inner.verify, { maxEntries: 2 });
    for (const token of ['a', 'b', 'c', 'a', 'c']) await verify(token);
    expect(inner.calls).toEqual(['a', 'b', 'c', 'a']);
  });

  it('verifies again once the keys were read again, although the verification is young', async () => {
    let keys = 'first reading';
    const inner = counting(() => ({ ok: true, principal: principal(Date.now() + 60_000) }));
    const verify = cacheVerifiedTokens(inner.verify, { generation: () => keys });
    await verify('a');
    await verify('a');
    keys = 'second reading';
    await verify('a');
    await verify('a');
    expect(inner.calls).toEqual(['a', 'a']);
  });
});
