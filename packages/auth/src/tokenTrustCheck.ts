import { basename } from 'node:path';
import type { z } from 'zod';
import { jwksSourceProblem } from './createKeySet';
import { DEV_ISSUER, DEV_JWKS_FILE_NAME } from './devKeys';

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
