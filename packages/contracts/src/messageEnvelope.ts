import { z } from 'zod';
import { isTraceparent } from './requestTrace';
import { boundedString, correlationIdSchema, isoDateTimeSchema, storableStringSchema, tenantIdSchema, uuidSchema } from './scalars';

/** W3C recommends propagating at least 512 characters of `tracestate`; longer is not carried. */
const TRACESTATE_MAX_LENGTH = 512;
/** W3C Baggage: at most 8,192 bytes; ours carries `tenant.id` only. */
const BAGGAGE_MAX_LENGTH = 1_024;

/**
 * The header every asynchronous message carries (outbox rows, pub/sub
 * messages, queued commands). Strict.
 */
export const envelopeHeaderSchema = z.strictObject({
  /** Unique per message; consumers dedupe on it (delivery is at-least-once). */
  messageId: uuidSchema,
  tenantId: tenantIdSchema,
  /** What the message is about, e.g. `Tenant`; with aggregateId, the ordering key. */
  aggregateType: boundedString(128),
  aggregateId: boundedString(256),
  /** Event or command name, e.g. `SignalsAccepted`. */
  type: boundedString(128),
  /** When the message was created (producer clock). */
  timestamp: isoDateTimeSchema,
  /** The request id of the request that started the chain (see `requestTrace`). */
  correlationId: correlationIdSchema,
  /** `messageId` (or request id) of the message that caused this one; null at the start of a chain. */
  causationId: correlationIdSchema.nullable(),
  /** Version of the payload shape for this `type`; starts at 1. */
  schemaVersion: z.int().positive(),
  /** W3C `traceparent` of the producing span, so consumers continue the trace. */
  traceparent: storableStringSchema
    .refine(isTraceparent, {
      error: 'Must be a W3C traceparent',
      params: { rule: 'format' },
    })
    .optional(),
  /** W3C `tracestate` that accompanied `traceparent`. */
  tracestate: storableStringSchema.max(TRACESTATE_MAX_LENGTH).optional(),
  /** W3C `baggage` that accompanied `traceparent` (`tenant.id`, docs/adr/0020-traces.md). */
  baggage: storableStringSchema.max(BAGGAGE_MAX_LENGTH).optional(),
});

/** See {@link envelopeHeaderSchema}. */
export type EnvelopeHeader = z.output<typeof envelopeHeaderSchema>;

/**
 * Envelope = {@link envelopeHeaderSchema} + `payload` validated by `payloadSchema`.
 * `type` stays any string; use {@link eventEnvelopeSchema} to pin it.
 */
export function messageEnvelopeSchema<P extends z.ZodType>(payloadSchema: P) {
  return envelopeHeaderSchema.extend({ payload: payloadSchema });
}

/** A message envelope around a payload of type `P`. */
export type MessageEnvelope<P> = EnvelopeHeader & { payload: P };

/**
 * Envelope whose `type` must be exactly `type` — one event kind, one payload
 * shape. Usable as a member of `z.discriminatedUnion('type', …)`.
 */
export function eventEnvelopeSchema<const T extends string, P extends z.ZodType>(type: T, payloadSchema: P) {
  return envelopeHeaderSchema.extend({ type: z.literal(type), payload: payloadSchema });
}
