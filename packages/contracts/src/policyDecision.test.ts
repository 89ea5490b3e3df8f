import { describe, expect, it } from 'vitest';
import { POLICY_REASON_CODES, policyDecisionSchema, type PolicyDecision } from './policyDecision';
import { validate, type ValidationIssue } from './validationIssue';

const allowed: PolicyDecision = {
  decisionId: '0b6f3c1e-8a4e-4c1e-9f6a-2d2b8f0e7a11',
  tenantId: 'acme',
  subject: 'user-42',
  operationId: 'a'.repeat(64),
  operationType: 'query',
  allow: true,
  reasonCode: 'ALLOWED',
  explanation: 'scope coherence:read:self, tenant match, residency eu',
  bundleSha256: 'b'.repeat(64),
  correlationId: '4bf92f3577b34da6a3ce929d0e0e4736',
  decidedAt: '2024-05-01T12:00:00Z',
};

function issuesOf(result: ReturnType<typeof validate>): ValidationIssue[] {
  if (result.ok) throw new Error('expected validation to fail');
  return result.issues;
}

describe('policyDecisionSchema', () => {
  it('accepts allowed and denied decisions', () => {
    expect(validate(policyDecisionSchema, allowed)).toEqual({ ok: true, value: allowed });
    for (const reasonCode of ['SCOPE_MISSING', 'TENANT_MISMATCH', 'RESIDENCY_VIOLATION', 'FEATURE_PAUSED', 'SOME_NEW_RULE']) {
      expect(validate(policyDecisionSchema, { ...allowed, allow: false, reasonCode }).ok).toBe(true);
    }
  });

  it('lets a fail-closed denial have no bundle, but never an allow', () => {
    const noBundle = { ...allowed, allow: false, reasonCode: POLICY_REASON_CODES.NO_ACTIVE_BUNDLE, bundleSha256: null };
    expect(validate(policyDecisionSchema, noBundle).ok).toBe(true);
    expect(issuesOf(validate(policyDecisionSchema, { ...allowed, bundleSha256: null }))).toEqual([
      expect.objectContaining({ path: 'bundleSha256', rule: 'consistency' }),
    ]);
  });

  it('ties allow to reasonCode ALLOWED both ways', () => {
    expect(issuesOf(validate(policyDecisionSchema, { ...allowed, reasonCode: 'SCOPE_MISSING' }))).toEqual([
      expect.objectContaining({ path: 'reasonCode', rule: 'consistency' }),
    ]);
    expect(issuesOf(validate(policyDecisionSchema, { ...allowed, allow: false }))).toEqual([
      expect.objectContaining({ path: 'reasonCode', rule: 'consistency' }),
    ]);
  });

  it('rejects malformed fields and unknown ones', () => {
    const input = {
      ...allowed,
      operationType: 'delete',
      reasonCode: 'scope missing',
      bundleSha256: 'XYZ',
      allow: 'yes',
      explanation: '',
      input: {},
    };
    expect(issuesOf(validate(policyDecisionSchema, input)).map((i) => `${i.path}:${i.rule}`)).toEqual([
      'operationType:enum',
      'allow:type',
      'reasonCode:format',
      'explanation:min',
      'bundleSha256:format',
      'input:unknown_field',
    ]);
  });
});
