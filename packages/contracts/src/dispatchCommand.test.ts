import { describe, expect, it } from 'vitest';
import { dispatchCommandSchema, type DispatchCommand } from './dispatchCommand';
import { validate, type ValidationIssue } from './validationIssue';

const command: DispatchCommand = {
  commandId: '0b6f3c1e-8a4e-4c1e-9f6a-2d2b8f0e7a11',
  tenantId: 'acme',
  type: 'notify.sms',
  idempotencyKey: 'acme:coherence-changed:2024-05-01T12:00:00Z:+15550100',
  correlationId: 'req-1',
  payload: { to: '+15550100', template: 'status_changed', vars: { status: 'WARN', score: 0.6 }, tags: ['a'] },
  maxAttempts: 5,
};

function issuesOf(result: ReturnType<typeof validate>): ValidationIssue[] {
  if (result.ok) throw new Error('expected validation to fail');
  return result.issues;
}

describe('dispatchCommandSchema', () => {
  it('accepts a command with and without notBefore', () => {
    expect(validate(dispatchCommandSchema, command)).toEqual({ ok: true, value: command });
    const later = { ...command, notBefore: '2024-05-01T22:00:00+02:00' };
    expect(validate(dispatchCommandSchema, later)).toEqual({ ok: true, value: later });
  });

  it('bounds maxAttempts to integers 1..100', () => {
    expect(validate(dispatchCommandSchema, { ...command, maxAttempts: 100 }).ok).toBe(true);
    const rules = (maxAttempts: unknown): string[] =>
      issuesOf(validate(dispatchCommandSchema, { ...command, maxAttempts })).map((i) => `${i.path}:${i.rule}`);
    expect(rules(0)).toEqual(['maxAttempts:min']);
    expect(rules(101)).toEqual(['maxAttempts:max']);
    expect(rules(2.5)).toEqual(['maxAttempts:integer']);
    expect(rules(undefined)).toEqual(['maxAttempts:required']);
  });

  it('rejects payloads that are not JSON objects, bad keys and unknown fields', () => {
    const input = { ...command, payload: ['x'], idempotencyKey: 'has space', notBefore: 'tomorrow', attempts: 0 };
    expect(issuesOf(validate(dispatchCommandSchema, input)).map((i) => `${i.path}:${i.rule}`)).toEqual([
      'idempotencyKey:format',
      'payload:type',
      'notBefore:format',
      'attempts:unknown_field',
    ]);
  });
});
