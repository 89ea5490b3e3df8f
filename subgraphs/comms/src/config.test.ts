import { ConfigError } from '@coherence/platform';
import { expect, it } from 'vitest';
import { LEASE_MARGIN_MS, readCommsConfig, readCommsWorkerConfig } from './config';

const base = { COMMS_DATABASE_URL: 'postgres://comms_app@127.0.0.1:5432/coherence' };
const subgraph = { ...base, SUBGRAPH_INTERNAL_JWKS: '/etc/coherence/internal-jwks.json' };

it('requires the lease to cover the delivery timeout plus the margin (the lease is renewed right before the POST)', () => {
  expect(() => readCommsWorkerConfig({ ...base, COMMS_WEBHOOK_TIMEOUT_MS: '10000', COMMS_LEASE_MS: '15000' })).toThrow(ConfigError);
  const fits = readCommsWorkerConfig({ ...base, COMMS_WEBHOOK_TIMEOUT_MS: '10000', COMMS_LEASE_MS: String(10_000 + LEASE_MARGIN_MS) });
  expect(fits.COMMS_LEASE_MS).toBe(20_000);
  expect(readCommsWorkerConfig(base).COMMS_LEASE_MS).toBe(30_000);
});

it('gives the inbound webhooks their own port, and drops a trailing slash of COMMS_PUBLIC_URL', () => {
  const config = readCommsConfig({ ...subgraph, COMMS_PUBLIC_URL: 'https://comms.example.com/' });
  expect(config.COMMS_INBOUND_PORT).toBe(4013);
  expect(config.COMMS_PORT).toBe(4003);
  expect(config.COMMS_PUBLIC_URL).toBe('https://comms.example.com');
});

it("answers the gateway's signed calls only: the key set is required, and _entities takes 100 representations unless set", () => {
  expect(() => readCommsConfig(base)).toThrow(/SUBGRAPH_INTERNAL_JWKS/);
  expect(readCommsConfig(subgraph).SUBGRAPH_MAX_REPRESENTATIONS).toBe(100);
  expect(readCommsConfig({ ...subgraph, SUBGRAPH_MAX_REPRESENTATIONS: '20' }).SUBGRAPH_MAX_REPRESENTATIONS).toBe(20);
});

it('requires COMMS_PUBLIC_URL with COMMS_TWILIO_AUTH_TOKEN: the signed URL is never rebuilt from a request', () => {
  expect(() => readCommsConfig({ ...subgraph, COMMS_TWILIO_AUTH_TOKEN: 'token' })).toThrow(/COMMS_PUBLIC_URL/);
  const config = readCommsConfig({ ...subgraph, COMMS_TWILIO_AUTH_TOKEN: 'token', COMMS_PUBLIC_URL: 'https://comms.example.com' });
  expect(config.COMMS_PUBLIC_URL).toBe('https://comms.example.com');
  expect(readCommsConfig(subgraph).COMMS_TWILIO_AUTH_TOKEN).toBeUndefined();
});

// Issue 14: the dev artifact key's private half is committed; a production worker must not trust bundles it signed.
it('pins the dev key for the quiet-hours bundle outside production and refuses it in production', () => {
  expect(readCommsWorkerConfig(base).COMMS_POLICY_PUBLIC_KEY.keyId).toMatch(/^[0-9a-f]{16}$/);
  expect(() => readCommsWorkerConfig({ ...base, NODE_ENV: 'production' })).toThrow(
    /COMMS_POLICY_PUBLIC_KEY: the dev artifact key is refused when NODE_ENV=production/,
  );
});
