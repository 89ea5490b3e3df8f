import { describe, expect, it } from 'vitest';
import { commsEnvelopeSchema, type CommsEnvelope } from './commsEnvelope';
import { validate, type ValidationIssue } from './validationIssue';

const inbound: CommsEnvelope = {
  envelopeId: '0b6f3c1e-8a4e-4c1e-9f6a-2d2b8f0e7a11',
  tenantId: 'acme',
  channel: 'sms',
  direction: 'inbound',
  provider: 'twilio',
  providerMessageId: 'SM123',
  correlationId: 'req-1',
  receivedAt: '2024-05-01T12:00:00Z',
  payload: { Body: 'STOP', From: '+15550100', MediaUrl: ['https://a', 'https://b'] },
};

function issuesOf(result: ReturnType<typeof validate>): ValidationIssue[] {
  if (result.ok) throw new Error('expected validation to fail');
  return result.issues;
}

describe('commsEnvelopeSchema', () => {
  it('accepts an inbound SMS and an outbound email without provider id', () => {
    expect(validate(commsEnvelopeSchema, inbound)).toEqual({ ok: true, value: inbound });
    const { providerMessageId: _omitted, ...outbound } = { ...inbound, channel: 'email', direction: 'outbound' };
    expect(validate(commsEnvelopeSchema, outbound).ok).toBe(true);
  });

  it('rejects unknown channels and directions and non-string payload values', () => {
    const input = { ...inbound, channel: 'fax', direction: 'sideways', payload: { Body: 1, 'X-Tags': ['a', 2] } };
    expect(issuesOf(validate(commsEnvelopeSchema, input)).map((i) => `${i.path}:${i.rule}`)).toEqual([
      'channel:enum',
      'direction:enum',
      'payload.Body:type',
      'payload["X-Tags"]:type',
    ]);
  });

  it('is strict', () => {
    expect(issuesOf(validate(commsEnvelopeSchema, { ...inbound, parsed: {} }))).toEqual([
      expect.objectContaining({ path: 'parsed', rule: 'unknown_field' }),
    ]);
  });
});
