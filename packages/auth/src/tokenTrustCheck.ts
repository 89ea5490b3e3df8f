import { basename } from 'node:path';
import type { z } from 'zod';
import { jwksSourceProblem } from './createKeySet';
import { DEV_INTERNAL_KEY_FILE_NAMES, DEV_ISSUER, DEV_JWKS_FILE_NAME } from './devKeys';

/** The config variables a service names its token keys and issuers in. */
export interface TokenTrustVariables<J extends string, I extends string> {
  /** Holds a JWKS file path or URL. */
  jwks: J;
  /** Holds the accepted `iss` values. */
  issuers: I;
}

/**
 * A refinement for a service's config schema (`.superRefine(...)`), so these
 * problems are reported at start with every other: a JWKS URL that is not
 * https, and, when `NODE_ENV` is `production`, the dev issuer or the dev key
 * set. Dev tokens are minted by anyone who holds the dev key, which sits
 * unencrypted in the working copy; production must not trust them.
 */
export function tokenTrustCheck<J extends string, I extends string>(variables: TokenTrustVariables<J, I>) {
  return (config: { NODE_ENV?: string | undefined } & Record<J, string> & Record<I, readonly string[]>, ctx: z.RefinementCtx): void => {
    const jwks = config[variables.jwks];
    const problem = (variable: string, message: string) => ctx.addIssue({ code: 'custom', path: [variable], message });
    const source = jwksSourceProblem(jwks);
    if (source !== undefined) problem(variables.jwks, source);
    if (config.NODE_ENV !== 'production') return;
    if (basename(jwks) === DEV_JWKS_FILE_NAME)
      problem(variables.jwks, `the dev key set (${DEV_JWKS_FILE_NAME}) is refused when NODE_ENV=production`);
    if (config[variables.issuers].includes(DEV_ISSUER))
      problem(variables.issuers, `the dev issuer (${DEV_ISSUER}) is refused when NODE_ENV=production`);
  };
}

/**
 * The same for the internal tokens' keys: the gateway's signing key
 * (`signingKey`, a JWK file) or a subgraph's key set (`jwks`). When
 * `NODE_ENV` is `production` the dev internal pair is refused: whoever holds
 * the working copy could sign subgraph calls with it.
 */
export function internalKeyTrustCheck<V extends string>(variable: V, holds: 'signingKey' | 'jwks') {
  return (config: { NODE_ENV?: string | undefined } & Record<V, string>, ctx: z.RefinementCtx): void => {
    const value = config[variable];
    const problem = (message: string) => ctx.addIssue({ code: 'custom', path: [variable], message });
    const source = holds === 'jwks' ? jwksSourceProblem(value) : undefined;
    if (source !== undefined) problem(source);
    const devFile = holds === 'jwks' ? DEV_INTERNAL_KEY_FILE_NAMES.jwks : DEV_INTERNAL_KEY_FILE_NAMES.privateKey;
    if (config.NODE_ENV === 'production' && basename(value) === devFile)
      problem(`the dev internal key (${devFile}) is refused when NODE_ENV=production`);
  };
}
