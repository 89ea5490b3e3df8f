import { tenantIdSchema } from '@coherence/contracts';
import { z } from 'zod';

/** The audience every Coherence token is minted for. */
export const TOKEN_AUDIENCE = 'coherence';

// Every claim is bounded and limited to what the stores and headers it
// reaches can carry: the subject is forwarded to subgraphs as an HTTP header
// (no control characters, nothing beyond Latin-1) and written to audit rows
// (Postgres refuses NUL). A signed token whose claims cannot go there is
// refused here as TOKEN_CLAIMS_INVALID (401), not later as a 500.
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const VISIBLE_ASCII = /^[\x21-\x7e]*$/;
const printableAscii = (maxLength: number) =>
  z.string().max(maxLength).regex(PRINTABLE_ASCII, { error: 'May only contain printable ASCII characters' });
const visibleAscii = (maxLength: number) =>
  z.string().min(1).max(maxLength).regex(VISIBLE_ASCII, { error: 'May only contain visible ASCII characters' });

const spaceSeparated = printableAscii(4_096).transform((value) => value.split(' ').filter((part) => part.length > 0));

/**
 * The claims a verified token must carry (docs/architecture.md, "Trust boundary"). `scope` is the
 * OAuth space-separated string; `residency` is the list of regions the
 * subject may read from, as an array or a space-separated string. `tenant`
 * follows the contracts' tenant id rule, like every tenant id we store.
 */
export const tokenClaimsSchema = z.object({
  iss: z.string().min(1),
  // OpenID Connect Core 1.0 §2: at most 255 ASCII characters.
  sub: visibleAscii(255),
  tenant: tenantIdSchema,
  scope: spaceSeparated,
  residency: z.union([z.array(visibleAscii(64)).max(32), spaceSeparated]),
  // RFC 6749 Appendix A.1: a client id is printable ASCII.
  client_id: printableAscii(256).min(1),
  exp: z.number().int(),
  // Optional for ordinary requests; break glass refuses a token without it (it needs the token's age).
  iat: z.number().int().optional(),
});

/** What services work with after verification. */
export interface Principal {
  subject: string;
  tenantId: string;
  scopes: string[];
  residency: string[];
  clientId: string;
  issuer: string;
  expiresAt: Date;
  /** When the token was issued (`iat`), if it says. */
  issuedAt?: Date;
}

export function toPrincipal(claims: z.output<typeof tokenClaimsSchema>): Principal {
  return {
    subject: claims.sub,
    tenantId: claims.tenant,
    scopes: claims.scope,
    residency: claims.residency,
    clientId: claims.client_id,
    issuer: claims.iss,
    expiresAt: new Date(claims.exp * 1_000),
    ...(claims.iat === undefined ? {} : { issuedAt: new Date(claims.iat * 1_000) }),
  };
}
