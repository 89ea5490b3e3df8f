import type { ClientDirectory } from '@coherence/policy';
import { assertReached, refusal, type GatewayStep } from './GatewayStep';

/**
 * After authentication: the token must name an enabled API client of its
 * tenant whose allowed scopes hold every scope it carries (a client the
 * tenant does not have passes only while unknown clients are accepted,
 * outside production; docs/adr/0031-tenant-administration.md). A refusal is
 * FORBIDDEN with reasonCode CLIENT_UNKNOWN, CLIENT_DISABLED or
 * CLIENT_SCOPE_NOT_ALLOWED.
 */
export function useApiClient(options: { clients: Pick<ClientDirectory, 'refusalOf'> }): GatewayStep {
  return {
    name: 'api-client',
    span: false,
    async onRequest(context) {
      assertReached(context, 'api-client', 'principal');
      const refused = await options.clients.refusalOf(context.principal);
      if (!refused) return undefined;
      return refusal('FORBIDDEN', `the token's client_id ${context.principal.clientId} may not be used: ${refused}`, {
        reasonCode: refused,
      });
    },
  };
}
