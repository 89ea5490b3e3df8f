import { describe, expect, it } from 'vitest';
import { describeRefusal, parseRetryAfter, refusalOf, refusalOfLiveError } from './refusals';

const NOW = Date.parse('2026-11-27T01:00:00Z');
const body = (code: string, extensions: Record<string, unknown> = {}) => ({
  errors: [{ message: `refused: ${code}`, extensions: { code, ...extensions } }],
});

describe('parseRetryAfter', () => {
  it('reads whole seconds and an HTTP date, and nothing else', () => {
    expect(parseRetryAfter('7', NOW)).toBe(7);
    expect(parseRetryAfter(' 0 ', NOW)).toBe(0);
    expect(parseRetryAfter('Fri, 27 Nov 2026 01:00:30 GMT', NOW)).toBe(30);
    expect(parseRetryAfter('Fri, 27 Nov 2026 00:59:00 GMT', NOW)).toBe(0);
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
    expect(parseRetryAfter('', NOW)).toBeUndefined();
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter('-3', NOW)).toBeUndefined();
  });
});

describe('a refusal as the reader sees it', () => {
  it('names the 401 and its reason code', () => {
    const refusal = refusalOf(401, new Headers(), body('UNAUTHENTICATED', { reasonCode: 'TOKEN_EXPIRED' }), NOW);
    expect(refusal).toMatchObject({ status: 401, code: 'UNAUTHENTICATED', reasonCode: 'TOKEN_EXPIRED' });
    expect(describeRefusal(refusal)).toBe(
      'You are not signed in, or your token has expired or is not trusted. Sign in again. Your token has expired. (UNAUTHENTICATED TOKEN_EXPIRED)',
    );
  });

  it('names each 403 reason the policy gives', () => {
    const refusal = refusalOf(403, new Headers(), body('FORBIDDEN', { reasonCode: 'TENANT_MISMATCH' }), NOW);
    expect(describeRefusal(refusal)).toBe('Your token may not do this. Your token is for another tenant. (FORBIDDEN TENANT_MISMATCH)');
    const unknownReason = refusalOf(403, new Headers(), body('FORBIDDEN', { reasonCode: 'SOMETHING_NEW' }), NOW);
    expect(describeRefusal(unknownReason)).toBe('Your token may not do this. (FORBIDDEN SOMETHING_NEW)');
  });

  it('takes a 429 delay from Retry-After first, then from the body', () => {
    const fromHeader = refusalOf(429, new Headers({ 'retry-after': '3' }), body('RATE_LIMITED', { retryAfterSeconds: 9 }), NOW);
    expect(fromHeader.retryAfterSeconds).toBe(3);
    expect(describeRefusal(fromHeader)).toBe('Too many requests for this tenant. Retrying in 3 s. (RATE_LIMITED)');
    expect(refusalOf(429, new Headers(), body('RATE_LIMITED', { retryAfterSeconds: 9 }), NOW).retryAfterSeconds).toBe(9);
  });

  it('explains the kill switch', () => {
    const refusal = refusalOf(503, new Headers(), body('FEATURE_DISABLED'), NOW);
    expect(describeRefusal(refusal)).toContain('kill switch v24.coherence');
    expect(describeRefusal(refusal)).toMatch(/\(FEATURE_DISABLED\)$/);
  });

  it('keeps the gateway message for a code it has no words for, and names a bare status', () => {
    expect(describeRefusal(refusalOf(400, new Headers(), body('BAD_USER_INPUT'), NOW))).toBe('refused: BAD_USER_INPUT (BAD_USER_INPUT)');
    expect(describeRefusal(refusalOf(502, new Headers(), '<html>bad gateway</html>', NOW))).toBe('the gateway answered 502 (HTTP_502)');
  });
});

describe('a refusal on the live socket', () => {
  it('reads a refused subscribe from its GraphQL errors, reason code and delay included', () => {
    const refused = refusalOfLiveError(body('FORBIDDEN', { reasonCode: 'TENANT_MISMATCH' }).errors);
    expect(refused).toEqual({ code: 'FORBIDDEN', reasonCode: 'TENANT_MISMATCH', message: 'refused: FORBIDDEN' });
    expect(refusalOfLiveError(body('SERVICE_UNAVAILABLE', { retryAfterSeconds: 5 }).errors)?.retryAfterSeconds).toBe(5);
  });

  it('reads a connection refused for good from its close code and reason, and nothing from a lost network', () => {
    expect(refusalOfLiveError({ code: 4403, reason: 'TENANT_SUSPENDED' })).toMatchObject({ code: 'TENANT_SUSPENDED' });
    expect(refusalOfLiveError({ code: 4401, reason: '' })).toMatchObject({ code: 'CLOSE_4401' });
    expect(refusalOfLiveError({ code: 1006, reason: '' })).toBeUndefined();
    expect(refusalOfLiveError({ code: 4429, reason: 'RATE_LIMITED' })).toBeUndefined();
    expect(refusalOfLiveError(new Error('socket hang up'))).toBeUndefined();
  });
});
