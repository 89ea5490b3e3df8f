import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { coherenceScoreSchema, coherenceStatusSchema } from './coherenceScore';
import { eventEnvelopeSchema } from './messageEnvelope';
import { TENANT_AGGREGATE } from './outboxEvent';
import { isoDateTimeSchema, tenantIdSchema, unitIntervalSchema } from './scalars';

/** Event type of {@link coherenceChangedSchema}, as it appears in a message envelope's `type`. */
export const COHERENCE_CHANGED = 'CoherenceChanged';

/** The part of a score that defines a "change": what subscribers compare against. */
export const coherenceSnapshotSchema = z.strictObject({
  score: unitIntervalSchema.nullable(),
  status: coherenceStatusSchema,
});

/** See {@link coherenceSnapshotSchema}. */
export type CoherenceSnapshot = z.output<typeof coherenceSnapshotSchema>;

/**
 * Published after a recompute changed a tenant's score: invalidates the
 * gateway cache, feeds `coherenceEvents` subscriptions and comms.
 * `previous` is null for a tenant's first score. `current.tenantId` must equal
 * `tenantId` (rule `tenant_mismatch` at `current.tenantId`).
 */
export const coherenceChangedSchema = z
  .strictObject({
    tenantId: tenantIdSchema,
    previous: coherenceSnapshotSchema.nullable(),
    current: coherenceScoreSchema,
    changedAt: isoDateTimeSchema,
  })
  .superRefine((value, ctx) => {
    if (value.current.tenantId !== value.tenantId) {
      ctx.addIssue({
        code: 'custom',
        path: ['current', 'tenantId'],
        message: 'Must equal the event tenantId',
        params: { rule: 'tenant_mismatch' },
      });
    }
  });

/** See {@link coherenceChangedSchema}. */
export type CoherenceChanged = z.output<typeof coherenceChangedSchema>;

/**
 * {@link coherenceChangedSchema} in a message envelope (type `CoherenceChanged`),
 * for transports that must carry trace context and correlation, e.g. Redis
 * pub/sub to comms. The envelope's `tenantId` must equal the payload's.
 */
export const coherenceChangedMessageSchema = eventEnvelopeSchema(COHERENCE_CHANGED, coherenceChangedSchema).superRefine((message, ctx) => {
  if (message.payload.tenantId !== message.tenantId) {
    ctx.addIssue({
      code: 'custom',
      path: ['payload', 'tenantId'],
      message: 'Must equal the envelope tenantId',
      params: { rule: 'tenant_mismatch' },
    });
  }
});

/** See {@link coherenceChangedMessageSchema}. */
export type CoherenceChangedMessage = z.output<typeof coherenceChangedMessageSchema>;

/**
 * A pub/sub message's text as a CoherenceChanged message, or undefined when it
 * is not JSON or not this contract: receivers skip (and log) such a message
 * instead of failing on it.
 */
export function decodeCoherenceChangedMessage(text: string): CoherenceChangedMessage | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = coherenceChangedMessageSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

/** What differs between one CoherenceChanged message and the next. */
export interface CoherenceChangedInit {
  change: CoherenceChanged;
  /** When the change was made; also the envelope's timestamp. */
  timestamp: string;
  correlationId: string;
  /** The message that caused it (an outbox event), if any. */
  causationId?: string | null;
  /** The trace headers of the work that made the change, so subscribers continue its trace. */
  trace?: { traceparent?: string; tracestate?: string; baggage?: string };
}

/** A CoherenceChanged message in its envelope, so producers fill only what is theirs. */
export function createCoherenceChangedMessage(init: CoherenceChangedInit): CoherenceChangedMessage {
  const { tenantId } = init.change;
  return {
    messageId: randomUUID(),
    tenantId,
    aggregateType: TENANT_AGGREGATE,
    aggregateId: tenantId,
    type: COHERENCE_CHANGED,
    timestamp: init.timestamp,
    correlationId: init.correlationId,
    causationId: init.causationId ?? null,
    schemaVersion: 1,
    ...init.trace,
    payload: init.change,
  };
}
