import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DEV_ISSUER } from './devKeys';
import { tokenTrustCheck } from './tokenTrustCheck';

/** A service config shaped like the gateway's and ingest's. */
const schema = z
  .object({ NODE_ENV: z.string().optional(), SERVICE_JWKS: z.string(), SERVICE_ISSUERS: z.array(z.string()) })
  .superRefine(tokenTrustCheck({ jwks: 'SERVICE_JWKS', issuers: 'SERVICE_ISSUERS' }));

const problems = (config: z.input<typeof schema>) =>
  (schema.safeParse(config).error?.issues ?? []).map((issue) => `${issue.path.join('.')}: ${issue.message}`);

describe('tokenTrustCheck', () => {
  const dev = { SERVICE_JWKS: '.data/stack/keys/dev-jwks.json', SERVICE_ISSUERS: [DEV_ISSUER] };

  it('lets the dev stack trust the dev issuer and key set when NODE_ENV is not production', () => {
    expect(problems(dev)).toEqual([]);
    expect(problems({ ...dev, NODE_ENV: 'development' })).toEqual([]);
  });

  // Issue 13: production started with the dev issuer and the dev keys, whose private half sits in the working copy.
  it('refuses the dev issuer and the dev key set in production, on the variables that name them', () => {
    expect(problems({ ...dev, NODE_ENV: 'production' })).toEqual([
      'SERVICE_JWKS: the dev key set (dev-jwks.json) is refused when NODE_ENV=production',
      `SERVICE_ISSUERS: the dev issuer (${DEV_ISSUER}) is refused when NODE_ENV=production`,
    ]);
    expect(
      problems({ NODE_ENV: 'production', SERVICE_JWKS: '/keys/jwks.json', SERVICE_ISSUERS: ['https://idp.example', DEV_ISSUER] }),
    ).toEqual([`SERVICE_ISSUERS: the dev issuer (${DEV_ISSUER}) is refused when NODE_ENV=production`]);
  });

  it('accepts a production issuer with its keys from a file or an https URL', () => {
    for (const jwks of ['/etc/coherence/jwks.json', 'https://idp.example/.well-known/jwks.json']) {
      expect(problems({ NODE_ENV: 'production', SERVICE_JWKS: jwks, SERVICE_ISSUERS: ['https://idp.example'] })).toEqual([]);
    }
  });

  it('refuses a JWKS URL that is not https, in any environment', () => {
    expect(problems({ SERVICE_JWKS: 'http://idp.example/jwks.json', SERVICE_ISSUERS: ['https://idp.example'] })).toEqual([
      'SERVICE_JWKS: a JWKS URL must be https:// (got http://); give a file as a path',
    ]);
  });
});
