import { createLocalJWKSet, createRemoteJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { readFile } from 'node:fs/promises';

export interface KeySetOptions {
  /** A JWKS file path, or an `https://` URL serving one. */
  jwks: string;
  /** Least time between two reloads caused by tokens naming an unknown `kid`, in milliseconds. Default 30_000. */
  refreshCooldownMs?: number;
}

/**
 * Why `jwks` cannot be a key source, or undefined when it can: a URL must be
 * `https://`, since keys fetched in the clear can be swapped on the way and
 * then sign anything. A path (no scheme) is a file.
 */
export function jwksSourceProblem(jwks: string): string | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(jwks)?.[1];
  if (scheme === undefined || scheme.toLowerCase() === 'https') return undefined;
  return `a JWKS URL must be https:// (got ${scheme}://); give a file as a path`;
}

/**
 * The keys tokens are verified against. A URL is fetched by jose (cached,
 * refetched when a token names an unknown `kid`); a file is re-read when a
 * token names an unknown `kid`; so key rotation needs no restart. Either
 * reload waits out a cooldown: the `kid` is whatever the sender writes, and
 * without one a flood of made-up kids is a flood of fetches or file reads.
 */
export async function createKeySet(options: KeySetOptions): Promise<KeySet> {
  const problem = jwksSourceProblem(options.jwks);
  if (problem !== undefined) throw new Error(problem);
  const cooldownMs = options.refreshCooldownMs ?? 30_000;
  if (/^https:\/\//i.test(options.jwks)) return createUrlKeySet(new URL(options.jwks), cooldownMs);
  return createFileKeySet(options.jwks, cooldownMs);
}

/** The keys, and which reading of them is current: a cached verification is good only under the reading it was made with. */
export type KeySet = JWTVerifyGetKey & { generation(): unknown };

function createUrlKeySet(url: URL, cooldownMs: number): KeySet {
  const remote = createRemoteJWKSet(url, { cooldownDuration: cooldownMs });
  // jose replaces the set it holds when it fetches the URL again.
  return Object.assign((...args: Parameters<JWTVerifyGetKey>) => remote(...args), { generation: () => remote.jwks() });
}

async function createFileKeySet(path: string, cooldownMs: number): Promise<KeySet> {
  const load = async () => createLocalJWKSet(JSON.parse(await readFile(path, 'utf8')) as JSONWebKeySet);
  let current = await load();
  // The reading at start starts no cooldown: the first unknown kid after it is looked up at once.
  let reloadedAtMs = -Infinity;
  const getKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await current(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey) || Date.now() - reloadedAtMs < cooldownMs) throw error;
      reloadedAtMs = Date.now();
      current = await load();
      return current(header, token);
    }
  };
  return Object.assign(getKey, { generation: () => current });
}
