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
} as const;
export type Scope = (typeof SCOPES)[keyof typeof SCOPES];
