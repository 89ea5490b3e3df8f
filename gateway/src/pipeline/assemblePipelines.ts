import type { TokenVerifier } from '@coherence/auth';
import type { ClientDirectory } from '@coherence/policy';
import type { PgPool, SecurityEventWriter } from '@coherence/platform';
import type { Registry } from 'prom-client';
import type { AuthDenialRecorder } from '../auth/createAuthDenialRecorder';
import type { TenantCoherenceCache } from '../cache/createTenantCoherenceCache';
import type { SecurityMetrics } from '../createSecurityMetrics';
import type { BreakGlass } from '../persisted/createBreakGlass';
import type { GatewayOperation, PersistedOperations } from '../persisted/createPersistedOperations';
import type { Authorizer } from '../policy/createAuthorizer';
import type { GatewayLimiter } from '../ratelimit/createGatewayLimiter';
import { auditRefusals } from './auditRefusals';
import { useApiClient } from './useApiClient';
import type { GatewayStep } from './GatewayStep';
import { timeSteps } from './timeSteps';
import { useAuthentication } from './useAuthentication';
import { useBreakGlassAudit } from './useBreakGlassAudit';
import { useKillSwitch } from './useKillSwitch';
import { usePersistedOperation } from './usePersistedOperation';
import { usePolicy } from './usePolicy';
import { useRateLimit } from './useRateLimit';
import { useRefusalThrottle } from './useRefusalThrottle';
import { useResponseCache } from './useResponseCache';
import { useTenant, type TenantSource } from './useTenant';

/** What the steps are built over: the gateway's stores, policy and audit, made in `createGateway`. */
export interface PipelineParts {
  refusalThrottle: { refusalsPerSecond: number; burst: number };
  verifyToken: TokenVerifier;
  recordAuthDenial: AuthDenialRecorder;
  clients: Pick<ClientDirectory, 'refusalOf'>;
  securityEvents: SecurityEventWriter;
  operations: () => PersistedOperations;
  breakGlass: BreakGlass | undefined;
  tenants: TenantSource;
  /** Break-glass use is written before the query runs, not queued. */
  pool: PgPool;
  authorize: Authorizer;
  isSwitchedOff: (operation: GatewayOperation) => boolean;
  limiter: GatewayLimiter;
  readCache: TenantCoherenceCache;
  metrics: Registry;
  securityMetrics: SecurityMetrics;
}

/**
 * The gateway's steps in their one order (docs/adr/0009), for both
 * transports. HTTP runs them all; graphql-ws runs `connect` on
 * `connection_init` and again before every subscribe, then `subscribe`.
 * Order matters: the refusal throttle before any work, authentication (and
 * the token's API client) before
 * the operation is looked up (an anonymous caller cannot probe ids), the
 * policy before the kill switch, the limiter and the cache (a refused request
 * spends no share and is never answered from the cache).
 */
export function assemblePipelines(parts: PipelineParts) {
  const refusalThrottle = useRefusalThrottle({ ...parts.refusalThrottle, metrics: parts.metrics });
  const authentication = useAuthentication({ verifyToken: parts.verifyToken, recordAuthDenial: parts.recordAuthDenial });
  const apiClient = useApiClient({ clients: parts.clients });
  const persistedOperation = (transport: 'http' | 'graphql-ws') =>
    auditRefusals(
      usePersistedOperation({
        operations: parts.operations,
        transport,
        ...(transport === 'http' && parts.breakGlass ? { breakGlass: parts.breakGlass } : {}),
      }),
      parts.securityEvents,
    );
  const tenant = useTenant({ tenants: parts.tenants });
  const policy = usePolicy({ authorize: parts.authorize, metrics: parts.securityMetrics });
  const killSwitch = auditRefusals(useKillSwitch({ isSwitchedOff: parts.isSwitchedOff }), parts.securityEvents);
  // Every subscribe is charged like a request (the same share, spent once per subscribe).
  const rateLimit = useRateLimit({ limiter: parts.limiter });
  const timed = (steps: GatewayStep[]) => timeSteps(steps, parts.securityMetrics.stepSeconds);
  return {
    http: timed([
      refusalThrottle,
      authentication,
      apiClient,
      persistedOperation('http'),
      tenant,
      useBreakGlassAudit({ pool: parts.pool, metrics: parts.securityMetrics }),
      policy,
      killSwitch,
      rateLimit,
      useResponseCache({ cache: parts.readCache }),
    ]),
    connect: timed([refusalThrottle, authentication, apiClient]),
    // The throttle again: it hears (and charges) the refusals of this list too.
    subscribe: timed([refusalThrottle, persistedOperation('graphql-ws'), tenant, policy, killSwitch, rateLimit]),
  } satisfies Record<string, GatewayStep[]>;
}
