import { describe, expect, it } from 'vitest';
import { evidenceRecordSchema, type EvidenceRecord } from './evidenceRecord';
import { validate, type ValidationIssue } from './validationIssue';

const record: EvidenceRecord = {
  evidenceId: '0b6f3c1e-8a4e-4c1e-9f6a-2d2b8f0e7a11',
  tenantId: 'acme',
  kind: 'command.retried',
  actor: { type: 'operator', id: 'sre-7' },
  subjectType: 'DispatchCommand',
  subjectId: 'b0f1e7c4-0000-4000-8000-000000000001',
  fromState: 'failed',
  toState: 'pending',
  reason: 'provider outage resolved',
  recordedAt: '2024-05-01T12:00:00Z',
  correlationId: 'req-1',
};

function issuesOf(result: ReturnType<typeof validate>): ValidationIssue[] {
  if (result.ok) throw new Error('expected validation to fail');
  return result.issues;
}

describe('evidenceRecordSchema', () => {
  it('accepts a transition and a non-transition record', () => {
    expect(validate(evidenceRecordSchema, record)).toEqual({ ok: true, value: record });
    const { fromState: _f, toState: _t, ...plain } = { ...record, actor: { type: 'system', id: 'outbox-relay' } };
    expect(validate(evidenceRecordSchema, plain).ok).toBe(true);
  });

  it('rejects a bad actor, an empty reason and unknown fields, nested too', () => {
    const input = { ...record, actor: { type: 'robot', id: 'x', name: 'R2' }, reason: '', note: 'x' };
    expect(issuesOf(validate(evidenceRecordSchema, input)).map((i) => `${i.path}:${i.rule}`)).toEqual([
      'actor.type:enum',
      'actor.name:unknown_field',
      'reason:min',
      'note:unknown_field',
    ]);
  });
});
