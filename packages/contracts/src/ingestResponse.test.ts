import { describe, expect, it } from 'vitest';
import { errorResponseSchema, ingestAcceptedSchema } from './ingestResponse';
import { validate } from './validationIssue';

describe('ingest responses', () => {
  it('ingestAcceptedSchema wants non-negative integer counts', () => {
    expect(validate(ingestAcceptedSchema, { accepted: 3, deduped: 0 }).ok).toBe(true);
    expect(validate(ingestAcceptedSchema, { accepted: -1, deduped: 0 }).ok).toBe(false);
    expect(validate(ingestAcceptedSchema, { accepted: 1, deduped: 0, rejected: 0 }).ok).toBe(false);
  });

  it('errorResponseSchema carries issues or fields', () => {
    const invalid = {
      error: { code: 'INVALID_SIGNAL', issues: [{ path: 'signals[0].value', rule: 'max', message: 'Too big' }] },
    };
    expect(validate(errorResponseSchema, invalid)).toEqual({ ok: true, value: invalid });
    expect(validate(errorResponseSchema, { error: { code: 'IDEMPOTENCY_MISMATCH', fields: ['signals[0].value'] } }).ok).toBe(true);
    expect(validate(errorResponseSchema, { error: { code: 'invalid' } }).ok).toBe(false);
    expect(validate(errorResponseSchema, { error: { code: 'X', issues: [{ path: '', rule: '', message: '' }] } }).ok).toBe(false);
  });
});
