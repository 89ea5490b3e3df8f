import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TOKEN_AUDIENCE } from './tokenClaims';

/** The issuer of tokens minted locally; production issuers are configured. */
export const DEV_ISSUER = 'coherence-dev';

/** The name of the key set file {@link ensureDevKeys} writes; production refuses a JWKS of this name. */
export const DEV_JWKS_FILE_NAME = 'dev-jwks.json';

export interface DevKeyFiles {
  privateKeyPath: string;
  jwksPath: string;
}

/** The file names of the dev key pair that signs the gateway's internal tokens (docs/adr/0011-signed-subgraph-calls.md). */
export const DEV_INTERNAL_KEY_FILE_NAMES = { privateKey: 'dev-internal-signing-key.jwk.json', jwks: 'dev-internal-jwks.json' } as const;

/**
 * A local ES256 key pair for development and tests, made once under `dir`
 * (git-ignored): the private half signs dev tokens, the JWKS file holds the
 * public half that services are configured to trust.
 */
export async function ensureDevKeys(dir: string): Promise<DevKeyFiles> {
  return ensureKeyPair(dir, { privateKey: 'dev-signing-key.jwk.json', jwks: DEV_JWKS_FILE_NAME });
}

/** The same for the gateway's internal tokens: its own pair, so a user-token key can never sign a subgraph call. */
export async function ensureDevInternalKeys(dir: string): Promise<DevKeyFiles> {
  return ensureKeyPair(dir, DEV_INTERNAL_KEY_FILE_NAMES);
}

async function ensureKeyPair(dir: string, names: { privateKey: string; jwks: string }): Promise<DevKeyFiles> {
  const files = { privateKeyPath: join(dir, names.privateKey), jwksPath: join(dir, names.jwks) };
  if (existsSync(files.privateKeyPath) && existsSync(files.jwksPath)) return files;
  mkdirSync(dir, { recursive: true });
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = randomUUID();
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'ES256' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  writeFileSync(files.privateKeyPath, JSON.stringify(privateJwk), { mode: 0o600 });
  writeFileSync(files.jwksPath, JSON.stringify({ keys: [publicJwk] }, null, 2));
  return files;
}

export interface DevTokenClaims {
  sub: string;
  tenant: string;
  scopes: readonly string[];
  residency: readonly string[];
  clientId?: string;
  /** Default 3_600. */
  ttlSeconds?: number;
  /** `iat`; default now. Tests of the token age break glass allows set it in the past. */
  issuedAt?: Date;
  audience?: string;
  issuer?: string;
}

/** Signs a token with the dev key; for local use and tests only. */
export async function mintDevToken(privateKeyPath: string, claims: DevTokenClaims): Promise<string> {
  const jwk = JSON.parse(readFileSync(privateKeyPath, 'utf8')) as JWK;
  const key = await importJWK(jwk, 'ES256');
  return new SignJWT({
    tenant: claims.tenant,
    scope: claims.scopes.join(' '),
    residency: [...claims.residency],
    client_id: claims.clientId ?? 'dev-cli',
  })
    .setProtectedHeader({ alg: 'ES256', kid: jwk.kid ?? 'dev', typ: 'JWT' })
    .setIssuer(claims.issuer ?? DEV_ISSUER)
    .setAudience(claims.audience ?? TOKEN_AUDIENCE)
    .setSubject(claims.sub)
    .setIssuedAt(claims.issuedAt)
    .setExpirationTime(`${claims.ttlSeconds ?? 3_600}s`)
    .sign(key);
}
