import { DEV_ISSUER, devArtifactPublicKeyPath } from '@coherence/auth';
import { ConfigError } from '@coherence/platform';
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readGatewayConfig } from './config';

/** What every gateway needs besides its token settings. */
const required = {
  GATEWAY_DATABASE_URL: 'postgres://app@127.0.0.1/coherence',
  GATEWAY_REGION: 'us',
  GATEWAY_REDIS_URL: 'redis://127.0.0.1:6379',
  GATEWAY_INTERNAL_SIGNING_KEY: '/etc/coherence/internal-signing-key.jwk.json',
};
const devTrust = { GATEWAY_JWKS: '.data/stack/keys/dev-jwks.json', GATEWAY_TOKEN_ISSUERS: DEV_ISSUER };
const keyDir = mkdtempSync(join(tmpdir(), 'gateway-config-'));
/** A production artifact key's public half, as a PEM file. */
const productionArtifactKey = join(keyDir, 'artifacts.pem');
writeFileSync(productionArtifactKey, generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }));
const productionArtifactTrust = { GATEWAY_POLICY_PUBLIC_KEY: productionArtifactKey, GATEWAY_MANIFEST_PUBLIC_KEY: productionArtifactKey };

describe('readGatewayConfig: where tokens are trusted from', () => {
  it('the dev stack (NODE_ENV unset) trusts the dev issuer and key set; tokens live at most 24 hours', () => {
    expect(readGatewayConfig({ ...required, ...devTrust })).toMatchObject({ GATEWAY_TOKEN_MAX_LIFETIME_SECONDS: 86_400 });
  });

  // Issue 13: a production gateway started trusting dev tokens, which anyone with the dev key can mint.
  it('refuses to start in production with the dev issuer or the dev key set', () => {
    const read = () => readGatewayConfig({ ...required, ...devTrust, NODE_ENV: 'production' });
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(/GATEWAY_JWKS: the dev key set .* refused when NODE_ENV=production/);
    expect(read).toThrow(/GATEWAY_TOKEN_ISSUERS: the dev issuer .* refused when NODE_ENV=production/);
  });

  // Issue 14: whoever holds the working copy could sign subgraph calls with the dev internal key.
  it('refuses to start in production with the dev internal signing key, and without a signing key at all', () => {
    const devInternalKey = '.data/stack/keys/dev-internal-signing-key.jwk.json';
    const production = { GATEWAY_JWKS: 'https://idp.example/.well-known/jwks.json', GATEWAY_TOKEN_ISSUERS: 'https://idp.example' };
    expect(() =>
      readGatewayConfig({ ...required, ...production, NODE_ENV: 'production', GATEWAY_INTERNAL_SIGNING_KEY: devInternalKey }),
    ).toThrow(/GATEWAY_INTERNAL_SIGNING_KEY: the dev internal key .* refused when NODE_ENV=production/);
    expect(readGatewayConfig({ ...required, ...devTrust, GATEWAY_INTERNAL_SIGNING_KEY: devInternalKey })).toMatchObject({
      GATEWAY_INTERNAL_SIGNING_KEY: devInternalKey,
    });
    const { GATEWAY_INTERNAL_SIGNING_KEY: _omitted, ...withoutKey } = required;
    expect(() => readGatewayConfig({ ...withoutKey, ...devTrust })).toThrow(/GATEWAY_INTERNAL_SIGNING_KEY/);
  });

  it('refuses a JWKS URL that is not https', () => {
    expect(() =>
      readGatewayConfig({ ...required, GATEWAY_JWKS: 'http://idp.example/jwks.json', GATEWAY_TOKEN_ISSUERS: 'https://idp.example' }),
    ).toThrow(/GATEWAY_JWKS: a JWKS URL must be https:\/\//);
  });

  it('starts in production with a production issuer and keys', () => {
    const config = readGatewayConfig({
      ...required,
      NODE_ENV: 'production',
      GATEWAY_JWKS: 'https://idp.example/.well-known/jwks.json',
      GATEWAY_TOKEN_ISSUERS: 'https://idp.example',
      GATEWAY_TOKEN_MAX_LIFETIME_SECONDS: '3600',
      ...productionArtifactTrust,
    });
    expect(config).toMatchObject({ GATEWAY_TOKEN_ISSUERS: ['https://idp.example'], GATEWAY_TOKEN_MAX_LIFETIME_SECONDS: 3_600 });
  });
});

describe('readGatewayConfig: the keys policy bundles and manifests are signed with', () => {
  const production = {
    ...required,
    NODE_ENV: 'production',
    GATEWAY_JWKS: 'https://idp.example/.well-known/jwks.json',
    GATEWAY_TOKEN_ISSUERS: 'https://idp.example',
  };

  it('pins the dev key outside production, with rollback refused unless GATEWAY_ALLOW_ROLLBACK=true', () => {
    const config = readGatewayConfig({ ...required, ...devTrust });
    expect(config.GATEWAY_POLICY_PUBLIC_KEY.path).toBe(devArtifactPublicKeyPath);
    expect(config.GATEWAY_MANIFEST_PUBLIC_KEY.path).toBe(devArtifactPublicKeyPath);
    expect(config.GATEWAY_ALLOW_ROLLBACK).toBe(false);
    expect(readGatewayConfig({ ...required, ...devTrust, GATEWAY_ALLOW_ROLLBACK: 'true' }).GATEWAY_ALLOW_ROLLBACK).toBe(true);
  });

  // Issue 14: anyone can sign with the dev key (both halves are committed); production must not trust it, under any file name.
  it('refuses to start in production with the dev key, even copied under another name', () => {
    const copied = join(keyDir, 'renamed.jwk.json');
    copyFileSync(devArtifactPublicKeyPath, copied);
    const read = () => readGatewayConfig({ ...production, GATEWAY_POLICY_PUBLIC_KEY: copied });
    expect(read).toThrow(/GATEWAY_POLICY_PUBLIC_KEY: the dev artifact key is refused when NODE_ENV=production/);
    expect(read).toThrow(/GATEWAY_MANIFEST_PUBLIC_KEY: the dev artifact key is refused when NODE_ENV=production/);
    expect(readGatewayConfig({ ...production, ...productionArtifactTrust }).GATEWAY_POLICY_PUBLIC_KEY.path).toBe(productionArtifactKey);
  });

  it('refuses a key file it cannot read and a rollback flag that is not true or false', () => {
    const read = () =>
      readGatewayConfig({
        ...required,
        ...devTrust,
        GATEWAY_MANIFEST_PUBLIC_KEY: join(keyDir, 'missing.pem'),
        GATEWAY_ALLOW_ROLLBACK: 'yes',
      });
    expect(read).toThrow(/GATEWAY_MANIFEST_PUBLIC_KEY: cannot read a public key from/);
    expect(read).toThrow(/GATEWAY_ALLOW_ROLLBACK:/);
  });
});

describe('readGatewayConfig: which browser origins may call', () => {
  it('allows no browser origin by default', () => {
    expect(readGatewayConfig({ ...required, ...devTrust })).toMatchObject({ GATEWAY_CORS_ORIGINS: [], GATEWAY_CORS_MAX_AGE_SECONDS: 600 });
  });

  it('reads exact origins', () => {
    const config = readGatewayConfig({
      ...required,
      ...devTrust,
      GATEWAY_CORS_ORIGINS: 'http://127.0.0.1:4200, https://workbench.example.com',
    });
    expect(config.GATEWAY_CORS_ORIGINS).toEqual(['http://127.0.0.1:4200', 'https://workbench.example.com']);
  });

  it.each(['*', 'null', 'https://workbench.example.com/', 'https://*.example.com', 'workbench.example.com', 'ftp://files.example.com'])(
    'refuses %s, which is not one exact origin',
    (origin) => {
      expect(() => readGatewayConfig({ ...required, ...devTrust, GATEWAY_CORS_ORIGINS: origin })).toThrow(
        /GATEWAY_CORS_ORIGINS: each value must be an exact origin/,
      );
    },
  );
});
