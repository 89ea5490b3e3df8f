import { ConfigError } from '@coherence/platform';
import { expect, it } from 'vitest';
import { readRetentionConfig } from './config';

const base = { RETENTION_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/coherence' };

it('keeps security events 400 days unless told otherwise', () => {
  expect(readRetentionConfig(base).RETENTION_SECURITY_EVENTS_TTL_DAYS).toBe(400);
  expect(readRetentionConfig({ ...base, RETENTION_SECURITY_EVENTS_TTL_DAYS: '30' }).RETENTION_SECURITY_EVENTS_TTL_DAYS).toBe(30);
});

it('keeps comms envelopes at least a day: their MessageSids tell a replayed Twilio message', () => {
  expect(() => readRetentionConfig({ ...base, RETENTION_COMMS_ENVELOPES_TTL_DAYS: '0.5' })).toThrow(ConfigError);
  expect(readRetentionConfig({ ...base, RETENTION_COMMS_ENVELOPES_TTL_DAYS: '1' }).RETENTION_COMMS_ENVELOPES_TTL_DAYS).toBe(1);
});
