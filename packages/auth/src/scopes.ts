/** The scopes a token can carry (docs/architecture.md, "Trust boundary"). */
export const SCOPES = {
  /** Read the token's own tenant. */
  readSelf: 'coherence:read:self',
  /** Operators: read any tenant. */
  readAny: 'coherence:read',
  /** Producers: write signals for the token's own tenant. */
  writeSelf: 'coherence:write:self',
  /** Operators of the comms troubleshooting queue. */
  commsOperate: 'comms:operate',
  /** Platform admins: create, change, suspend tenants and their API clients (docs/adr/0031-tenant-administration.md). */
  tenantsAdmin: 'tenants:admin',
  /** A tenant's own admins: its contacts and quiet hours, and a view of its settings and audit (policy/src/authz.rego). */
  tenantsAdminSelf: 'tenants:admin:self',
  /**
   * Break glass: may send query text while GATEWAY_BREAK_GLASS_UNTIL lasts.
   * Grants no data (the policy still decides each field with the other
   * scopes); the gateway checks it before the text is parsed.
   */
  breakGlass: 'platform:break-glass',
} as const;
export type Scope = (typeof SCOPES)[keyof typeof SCOPES];
