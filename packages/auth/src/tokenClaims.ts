import { z } from 'zod';

/** The audience every Coherence token is minted for. */
export const TOKEN_AUDIENCE = 'coherence';

const spaceSeparated = z.string().transform((value) => value.split(' ').filter((part) => part.length > 0));

/**
 * The claims a verified token must carry (API.md, "Tokens"). `scope` is the
 * OAuth space-separated string; `residency` is the list of regions the
 * subject may read from, as an array or a space-separated string.
 */
export const tokenClaimsSchema = z.object({
  iss: z.string().min(1),
  sub: z.string().min(1),
  tenant: z.string().min(1).max(128),
  scope: spaceSeparated,
  residency: z.union([z.array(z.string().min(1)), spaceSeparated]),
  client_id: z.string().min(1),
  exp: z.number().int(),
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
  };
}
