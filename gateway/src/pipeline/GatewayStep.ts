import type { Principal } from '@coherence/auth';
import { inSpan, setSpanTenant } from '@coherence/telemetry';
import { trace } from '@opentelemetry/api';
import type { FastifyBaseLogger } from 'fastify';
import type { GatewayErrorCode } from '../errors';
import type { ExecutedOperation, GatewayResponse } from '../gatewayResponse';
import type { GatewayOperation } from '../persisted/createPersistedOperations';
import type { TenantRecord } from '@coherence/policy';

/** The tenant a request acts for, read once per request (after the persisted lookup) for the policy, the limiter and the cache. */
export interface RequestTenant {
  /**
   * The first tenant the operation touches, or the token's own when it touches
   * none: its share is charged, and the policy decision is filed under it
   * unless the request turns out to touch tenants (usePolicy).
   */
  tenantId: string;
  /** Its row in `tenants`; undefined when it is not registered (weight 1, the default cache TTL). */
  record: TenantRecord | undefined;
  /** Residency of each registered tenant among `tenantIds` (the policy's input); unregistered ones are absent. */
  residency: ReadonlyMap<string, string>;
  /** The suspended tenants among `tenantIds` (the policy's input: TENANT_SUSPENDED). */
  suspended: readonly string[];
}

/**
 * One request as every step sees it, whichever transport it came by. The
 * transport fills what it received; each step adds what it learned, in
 * pipeline order (`principal`, then `operation`/`variables`/`tenantIds`,
 * then `tenant`).
 */
export interface RequestContext {
  /** The gateway's id for this request: the trace's request id over HTTP, a fresh one per WebSocket message. */
  readonly correlationId: string;
  /** The client's own `x-request-id` over HTTP, recorded beside the correlation id, never as it. */
  readonly clientRequestId?: string;
  readonly sourceIp: string;
  readonly userAgent: string | null;
  /** Where the bearer token is looked for: request headers and URL, or the graphql-ws `connectionParams`. */
  readonly credentials: { headers: Record<string, string | string[] | undefined>; url: string };
  readonly method: 'GET' | 'POST';
  /** The GraphQL request: the POST body, the GET query string, or the graphql-ws subscribe payload. */
  readonly payload: unknown;
  /** For the `gateway_request_security_seconds` histogram (performance.now()). */
  readonly receivedAtMs: number;
  /** Narrowed to the operation and subject once they are known. */
  log: FastifyBaseLogger;
  principal?: Principal;
  operation?: GatewayOperation;
  variables?: Record<string, unknown>;
  tenantIds?: string[];
  /** Query text run because break glass is on (audited before the policy decides). */
  breakGlass?: boolean;
  tenant?: RequestTenant;
  /** Set by execution: the tenants whose rows the subgraphs reported returning or changing (comms' operator fields). */
  tenantsTouched?: Set<string>;
}

/** A request every step has let through: what execution and the cache may rely on. */
export type AdmittedContext = RequestContext &
  Required<Pick<RequestContext, 'principal' | 'operation' | 'variables' | 'tenantIds' | 'tenant'>>;

/** Why a request is not run: rendered by the transport (HTTP status and error body, or graphql-ws errors and close). */
export interface Refusal {
  code: GatewayErrorCode;
  message: string;
  extensions: Record<string, unknown>;
}

export const refusal = (code: GatewayErrorCode, message: string, extensions: Record<string, unknown> = {}): Refusal => ({
  code,
  message,
  extensions,
});

export type ExecuteOperation = () => Promise<ExecutedOperation>;

/**
 * One concern of the gateway (authentication, policy, limiter, cache…),
 * built by a `useX(options)` in this folder. `onRequest` may refuse;
 * `onRefused` hears every refusal of the steps it runs with (its own
 * included); `onExecute` answers in place of execution (at most one step has
 * it); `onEnd` runs once an HTTP request is over, before its response is
 * written: after execution, a refusal or a failure, whichever step got that
 * far. A graphql-ws subscription has no such end: a step must not rely on
 * `onEnd` for one.
 */
export interface GatewayStep {
  readonly name: string;
  /**
   * `false`: the step runs in the request's span instead of a span of its
   * own. For a check in memory (or in a cache, whose misses show as the
   * `pg` spans of their reads): a sampled read started eleven spans, and
   * their cost was most of tracing's (docs/adr/0020-traces.md). A refusal is
   * on the request's span either way.
   */
  readonly span?: false;
  onRequest?(context: RequestContext): Promise<Refusal | undefined> | Refusal | undefined;
  onRefused?(context: RequestContext, refused: Refusal): void;
  onExecute?(context: AdmittedContext, execute: ExecuteOperation): Promise<GatewayResponse>;
  onEnd?(context: RequestContext): void;
}

/** Fails loudly when steps are wired out of order: a step read something an earlier step should have set. */
export function assertReached<K extends keyof RequestContext>(
  context: RequestContext,
  step: string,
  ...keys: K[]
): asserts context is RequestContext & Required<Pick<RequestContext, K>> {
  const missing = keys.filter((key) => context[key] === undefined);
  if (missing.length > 0) throw new Error(`gateway step ${step} ran before ${missing.join(', ')} was known`);
}

/**
 * Runs the steps' `onRequest` in order, each in a span `gateway <step>`
 * unless it has none (`span: false`); the first refusal ends the request,
 * named with its step on the request's span, and every step's `onRefused`
 * hears it.
 * Once the token is verified, its tenant is set on the request's span (and
 * so on every span started under it: docs/adr/0020-traces.md).
 */
export async function runRequestSteps(steps: readonly GatewayStep[], context: RequestContext): Promise<Refusal | undefined> {
  const requestSpan = trace.getActiveSpan();
  for (const step of steps) {
    const { onRequest } = step;
    if (onRequest === undefined) continue;
    const refused =
      step.span === false
        ? await onRequest.call(step, context)
        : await inSpan(`gateway ${step.name}`, {}, async (span) => {
            const outcome = await onRequest.call(step, context);
            if (outcome) span.setAttribute('coherence.refusal.code', outcome.code);
            return outcome;
          });
    if (context.principal) setSpanTenant(context.principal.tenantId, requestSpan);
    if (refused) {
      requestSpan?.setAttributes({ 'coherence.refusal.code': refused.code, 'coherence.refusal.step': step.name });
      for (const listener of steps) listener.onRefused?.(context, refused);
      return refused;
    }
  }
  return undefined;
}
