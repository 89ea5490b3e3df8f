import type { Principal } from '@coherence/auth';
import { createLogger } from '@coherence/platform';
import type { RequestContext } from './GatewayStep';

/** A request context as a transport would build it, for the steps' unit tests. */
export function testContext(overrides: Partial<RequestContext> = {}): RequestContext {
  return {
    correlationId: 'test-correlation',
    sourceIp: '127.0.0.1',
    userAgent: null,
    credentials: { headers: {}, url: '/graphql' },
    method: 'POST',
    payload: {},
    receivedAtMs: 0,
    log: createLogger('test', 'silent'),
    ...overrides,
  };
}

/** A verified token's principal for tenant `tenantId` (what useAuthentication sets). */
export const testPrincipal = (tenantId: string): Principal => ({
  subject: 'test-user',
  tenantId,
  scopes: ['coherence:read:self'],
  residency: ['us'],
  clientId: 'test-client',
  issuer: 'coherence-dev',
  expiresAt: new Date(Date.now() + 60_000),
});
