import { describe, expect, it } from 'vitest';
import { coherenceScoreSchema, coherenceStatusSchema, type CoherenceScore } from './coherenceScore';
import { validate, type ValidationIssue } from './validationIssue';

const scored: CoherenceScore = {
  tenantId: 'acme',
  score: 0.8123,
  status: 'HEALTHY',
  agreement: 0.9,
  window: 'PT24H',
  updatedAt: '2024-05-01T12:00:00Z',
  sources: [
    { source: 'billing-api', score: 0.85, count: 10, weight: 12.5 },
    { source: 'search', score: 0.76, count: 3, weight: 3 },
  ],
};

const empty: CoherenceScore = {
  tenantId: 'acme',
  score: null,
  status: 'UNKNOWN',
  agreement: null,
  window: 'PT24H',
  updatedAt: '2024-05-01T12:00:00Z',
  sources: [],
};

function issuesOf(result: ReturnType<typeof validate>): ValidationIssue[] {
  if (result.ok) throw new Error('expected validation to fail');
  return result.issues;
}

describe('coherenceStatusSchema', () => {
  it('has exactly the four statuses', () => {
    expect(coherenceStatusSchema.options).toEqual(['HEALTHY', 'WARN', 'CRITICAL', 'UNKNOWN']);
    expect(issuesOf(validate(coherenceStatusSchema, 'OK'))).toEqual([expect.objectContaining({ path: '', rule: 'enum' })]);
  });
});

describe('coherenceScoreSchema', () => {
  it('accepts a scored and an empty tenant', () => {
    expect(validate(coherenceScoreSchema, scored)).toEqual({ ok: true, value: scored });
    expect(validate(coherenceScoreSchema, empty)).toEqual({ ok: true, value: empty });
  });

  it('rejects out-of-range numbers, bad window, bad counts and unknown fields', () => {
    const input = {
      ...scored,
      score: 1.5,
      agreement: -0.1,
      window: '24h',
      sources: [
        { source: 'a', score: 0.5, count: 0 },
        { source: 'b', score: 0.5, count: 1.5 },
        { source: 'c', score: 0.5, count: 1, weight: -1 },
      ],
      cached: true,
    };
    expect(issuesOf(validate(coherenceScoreSchema, input)).map((i) => `${i.path}:${i.rule}`)).toEqual([
      'score:max',
      'agreement:min',
      'window:format',
      'sources[0].count:min',
      'sources[1].count:integer',
      'sources[2].weight:min',
      'cached:unknown_field',
    ]);
  });

  it('accepts sources without a weight, as scores written before it was recorded have them', () => {
    const before = { ...scored, sources: [{ source: 'billing-api', score: 0.85, count: 10 }] };
    expect(validate(coherenceScoreSchema, before)).toEqual({ ok: true, value: before });
  });

  it('rejects a null score with a non-UNKNOWN status and the rest', () => {
    const input = { ...empty, status: 'HEALTHY', agreement: 1, sources: [{ source: 'a', score: 1, count: 1 }] };
    expect(issuesOf(validate(coherenceScoreSchema, input)).map((i) => `${i.path}:${i.rule}`)).toEqual([
      'status:consistency',
      'agreement:consistency',
      'sources:consistency',
    ]);
  });

  it('rejects UNKNOWN with a score', () => {
    expect(issuesOf(validate(coherenceScoreSchema, { ...scored, status: 'UNKNOWN' }))).toEqual([
      expect.objectContaining({ path: 'status', rule: 'consistency' }),
    ]);
  });

  it('requires nullable fields to be present (null, not missing)', () => {
    const { agreement: _omitted, ...withoutAgreement } = empty;
    expect(issuesOf(validate(coherenceScoreSchema, withoutAgreement))).toEqual([
      expect.objectContaining({ path: 'agreement', rule: 'required' }),
    ]);
  });
});
