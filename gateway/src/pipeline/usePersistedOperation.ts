import { tenantIdSchema } from '@coherence/contracts';
import type { BreakGlass } from '../persisted/createBreakGlass';
import type { PersistedOperations } from '../persisted/createPersistedOperations';
import { resolvePersistedRequest } from '../persisted/resolvePersistedRequest';
import { assertReached, refusal, type GatewayStep } from './GatewayStep';

export interface PersistedOperationOptions {
  /** The persisted operations now active (swapped on reload). */
  operations: () => PersistedOperations;
  /** Break glass: who may send query text, and the operation it makes. Absent (the default), query text is refused. */
  breakGlass?: BreakGlass;
  /**
   * The transport the step serves. `graphql-ws` takes only subscriptions,
   * each following exactly one tenant (the event hub is keyed by it); `http`
   * takes everything else (Apollo cannot run a subscription over HTTP).
   */
  transport: 'http' | 'graphql-ws';
}

/**
 * Maps the request to a persisted operation (by `extensions.persistedQuery.sha256Hash`
 * or `documentId`) and sets `operation`, `variables` and `tenantIds`, the
 * tenant ids read from the operation's arguments: the one list every later
 * step uses.
 */
export function usePersistedOperation(options: PersistedOperationOptions): GatewayStep {
  return {
    name: 'persisted-operation',
    onRequest(context) {
      assertReached(context, 'persisted-operation', 'principal');
      const { breakGlass } = options;
      const freeText = breakGlass && ((query: string) => breakGlass(query, context));
      const resolved = resolvePersistedRequest(context.method, context.payload, options.operations(), freeText);
      if (!resolved.ok) return refusal(resolved.code, resolved.message, resolved.extensions);
      const { operation, variables } = resolved;
      const overWebSocket = options.transport === 'graphql-ws';
      if (overWebSocket && operation.type !== 'subscription')
        return refusal('BAD_USER_INPUT', `${operation.name} is a ${operation.type}: send it over HTTP`);
      if (!overWebSocket && operation.type === 'subscription')
        return refusal('BAD_USER_INPUT', `${operation.name} is a subscription: subscribe over graphql-ws at /graphql`);
      const tenantIds = operation.shape.tenantIds(variables);
      context.log = context.log.child({
        operation_id: operation.id,
        operation_name: operation.name,
        subject: context.principal.subject,
        ...(tenantIds[0] ? { tenant_id: tenantIds[0] } : {}),
      });
      if (tenantIds.some((tenantId) => !tenantIdSchema.safeParse(tenantId).success))
        return refusal('BAD_USER_INPUT', 'a tenantId variable is not a valid tenant id');
      if (overWebSocket && tenantIds.length !== 1)
        return refusal('BAD_USER_INPUT', 'tenantId must be a valid tenant id: a subscription follows exactly one tenant');
      Object.assign(context, { operation, variables, tenantIds, breakGlass: resolved.breakGlass });
      return undefined;
    },
  };
}
