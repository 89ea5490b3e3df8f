import { context as contextApi, propagation, trace, type Context, type Span } from '@opentelemetry/api';
import type { ReadableSpan, Span as SdkSpan, SpanProcessor } from '@opentelemetry/sdk-trace';

/** The baggage entry and span attribute naming the tenant a unit of work is for. */
export const TENANT_ID = 'tenant.id';

/** `context` (default: the active one) with `tenant.id` in its baggage, so spans started in it and calls made from it carry it. */
export function withTenantBaggage(tenantId: string, context: Context = contextApi.active()): Context {
  const baggage = propagation.getBaggage(context) ?? propagation.createBaggage();
  return propagation.setBaggage(context, baggage.setEntry(TENANT_ID, { value: tenantId }));
}

/**
 * Names the tenant on a span (default: the active one, the request's), e.g.
 * once its token is verified; spans started under it from then on inherit it.
 */
export function setSpanTenant(tenantId: string, span: Span | undefined = trace.getActiveSpan()): void {
  span?.setAttribute(TENANT_ID, tenantId);
}

/**
 * Sets `tenant.id` on every span that starts: from its local parent span
 * (set by {@link setSpanTenant} from a verified token), else from the
 * baggage the work came with. The parent wins so that an internet caller's
 * baggage cannot name a tenant over its token.
 */
export class TenantAttributeProcessor implements SpanProcessor {
  onStart(span: SdkSpan, parentContext: Context): void {
    const tenantId = tenantOfParentSpan(parentContext) ?? propagation.getBaggage(parentContext)?.getEntry(TENANT_ID)?.value;
    if (tenantId !== undefined) span.setAttribute(TENANT_ID, tenantId);
  }
  onEnd(_span: ReadableSpan): void {}
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

function tenantOfParentSpan(parentContext: Context): string | undefined {
  // A local parent is an SDK span, whose attributes can be read; a remote one is not.
  const parent = trace.getSpan(parentContext) as Partial<ReadableSpan> | undefined;
  const value = parent?.attributes?.[TENANT_ID];
  return typeof value === 'string' ? value : undefined;
}
