import { DEV_ISSUER } from '@coherence/auth';
import { ConfigError } from '@coherence/platform';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readIngestConfig, readIngestConsumerConfig } from './config';

/** What every ingest process needs besides its token settings. */
const required = {
  INGEST_DATABASE_URL: 'postgres://app@127.0.0.1/coherence',
  INGEST_REDIS_URL: 'redis://127.0.0.1:6379',
  SUBGRAPH_INTERNAL_JWKS: '/etc/coherence/internal-jwks.json',
  INGEST_REGION: 'us',
};
const devTrust = { INGEST_JWKS: '.data/stack/keys/dev-jwks.json', INGEST_TOKEN_ISSUERS: DEV_ISSUER };
/** A production key the policy bundle is signed with (its public half, as a PEM file): production refuses the dev one. */
const productionPolicyKey = join(mkdtempSync(join(tmpdir(), 'ingest-config-')), 'policy.pem');
writeFileSync(productionPolicyKey, generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }));

describe('readIngestConfig: where tokens are trusted from', () => {
  it('the dev stack (NODE_ENV unset) trusts the dev issuer and key set; tokens live at most 24 hours', () => {
    expect(readIngestConfig({ ...required, ...devTrust })).toMatchObject({ INGEST_TOKEN_MAX_LIFETIME_SECONDS: 86_400 });
  });

  // Issue 13: a production ingest started trusting dev tokens, which anyone with the dev key can mint.
  it('refuses to start in production with the dev issuer or the dev key set', () => {
    const read = () => readIngestConfig({ ...required, ...devTrust, NODE_ENV: 'production' });
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(/INGEST_JWKS: the dev key set .* refused when NODE_ENV=production/);
    expect(read).toThrow(/INGEST_TOKEN_ISSUERS: the dev issuer .* refused when NODE_ENV=production/);
  });

  // Issue 14: whoever holds the working copy could sign subgraph calls with the dev internal key.
  it("refuses to start in production trusting the dev internal key set for the gateway's calls", () => {
    const production = { INGEST_JWKS: 'https://idp.example/.well-known/jwks.json', INGEST_TOKEN_ISSUERS: 'https://idp.example' };
    expect(() =>
      readIngestConfig({
        ...required,
        ...production,
        NODE_ENV: 'production',
        SUBGRAPH_INTERNAL_JWKS: '.data/stack/keys/dev-internal-jwks.json',
      }),
    ).toThrow(/SUBGRAPH_INTERNAL_JWKS: the dev internal key .* refused when NODE_ENV=production/);
  });

  it('refuses a JWKS URL that is not https', () => {
    expect(() =>
      readIngestConfig({ ...required, INGEST_JWKS: 'http://idp.example/jwks.json', INGEST_TOKEN_ISSUERS: 'https://idp.example' }),
    ).toThrow(/INGEST_JWKS: a JWKS URL must be https:\/\//);
  });

  it('starts in production with a production issuer and keys', () => {
    const config = readIngestConfig({
      ...required,
      NODE_ENV: 'production',
      INGEST_POLICY_PUBLIC_KEY: productionPolicyKey,
      INGEST_JWKS: 'https://idp.example/.well-known/jwks.json',
      INGEST_TOKEN_ISSUERS: 'https://idp.example',
      INGEST_TOKEN_MAX_LIFETIME_SECONDS: '3600',
    });
    expect(config).toMatchObject({ INGEST_TOKEN_ISSUERS: ['https://idp.example'], INGEST_TOKEN_MAX_LIFETIME_SECONDS: 3_600 });
  });
});

describe('readIngestConfig: the write policy', () => {
  it('needs the region ingest stores data in, for both processes: a deployment must not fall back to one', () => {
    const { INGEST_REGION: _region, ...withoutRegion } = required;
    expect(() => readIngestConfig({ ...withoutRegion, ...devTrust })).toThrow(/INGEST_REGION/);
    expect(() => readIngestConsumerConfig({ INGEST_DATABASE_URL: required.INGEST_DATABASE_URL, KAFKA_BROKERS: '127.0.0.1:9092' })).toThrow(
      /INGEST_REGION/,
    );
    expect(() => readIngestConfig({ ...required, ...devTrust, INGEST_REGION: 'US East' })).toThrow(/INGEST_REGION: a region tag/);
  });

  it('enforces the policy unless told otherwise, and refuses to turn it off in production', () => {
    expect(readIngestConfig({ ...required, ...devTrust })).toMatchObject({ INGEST_WRITE_POLICY: 'enforce' });
    expect(readIngestConfig({ ...required, ...devTrust, INGEST_WRITE_POLICY: 'off' })).toMatchObject({ INGEST_WRITE_POLICY: 'off' });
    const production = {
      ...required,
      NODE_ENV: 'production',
      INGEST_POLICY_PUBLIC_KEY: productionPolicyKey,
      INGEST_JWKS: 'https://idp.example/.well-known/jwks.json',
      INGEST_TOKEN_ISSUERS: 'https://idp.example',
    };
    expect(() => readIngestConfig({ ...production, INGEST_WRITE_POLICY: 'off' })).toThrow(
      /INGEST_WRITE_POLICY: off is refused when NODE_ENV=production/,
    );
  });
});

describe('readIngestConfig: the policy bundle', () => {
  // Issue 14: the dev artifact key's private half is committed; a production ingest must not trust bundles it signed.
  it('refuses the dev artifact key in production, for both processes', () => {
    expect(() => readIngestConfig({ ...required, ...devTrust, NODE_ENV: 'production' })).toThrow(
      /INGEST_POLICY_PUBLIC_KEY: the dev artifact key is refused when NODE_ENV=production/,
    );
    expect(() => readIngestConsumerConfig({ ...required, KAFKA_BROKERS: '127.0.0.1:9092', NODE_ENV: 'production' })).toThrow(
      /INGEST_POLICY_PUBLIC_KEY: the dev artifact key is refused/,
    );
  });
});
