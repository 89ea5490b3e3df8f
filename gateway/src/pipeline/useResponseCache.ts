import type { TenantCoherenceCache } from '../cache/createTenantCoherenceCache';
import type { GatewayStep } from './GatewayStep';

/**
 * Answers cacheable reads from Redis (docs/adr/0006). It only wraps
 * execution, after every other step has let the request through: a cached
 * answer only ever goes to a request allowed to read it.
 */
export function useResponseCache(options: { cache: TenantCoherenceCache }): GatewayStep {
  return {
    name: 'response-cache',
    onExecute: (context, execute) =>
      options.cache.serve(
        {
          operation: context.operation,
          variables: context.variables,
          tenantIds: context.tenantIds,
          ttlSeconds: context.tenant.record?.cacheTtlSeconds ?? null,
        },
        execute,
      ),
  };
}
