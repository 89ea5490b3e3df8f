import { z } from 'zod';
import { eventEnvelopeSchema } from './messageEnvelope';
import { acceptedSignalSchema } from './signal';

/** Outbox event type appended in the same transaction as newly stored signals. */
export const SIGNALS_ACCEPTED = 'SignalsAccepted';

/** Aggregate type of tenant-scoped events; the aggregate id is the tenant id. */
export const TENANT_AGGREGATE = 'Tenant';

/**
 * Payload of `SignalsAccepted`: the newly stored signals (duplicates excluded),
 * each complete enough to MERGE into the graph without reading the ledger.
 */
export const signalsAcceptedPayloadSchema = z.strictObject({
  signals: z.array(acceptedSignalSchema).min(1),
});

/** See {@link signalsAcceptedPayloadSchema}. */
export type SignalsAcceptedPayload = z.output<typeof signalsAcceptedPayloadSchema>;

/**
 * The `SignalsAccepted` envelope. Besides shapes it checks that the event is
 * about one tenant: `aggregateType` is `Tenant`, `aggregateId` and every
 * signal's `tenantId` equal the envelope `tenantId` (rule `tenant_mismatch`).
 */
export const signalsAcceptedEventSchema = eventEnvelopeSchema(SIGNALS_ACCEPTED, signalsAcceptedPayloadSchema)
  .extend({ aggregateType: z.literal(TENANT_AGGREGATE) })
  .superRefine((event, ctx) => {
    const mismatch = (path: (string | number)[], message: string): void => {
      ctx.addIssue({ code: 'custom', path, message, params: { rule: 'tenant_mismatch' } });
    };
    if (event.aggregateId !== event.tenantId) mismatch(['aggregateId'], 'Must equal tenantId');
    event.payload.signals.forEach((signal, index) => {
      if (signal.tenantId !== event.tenantId) {
        mismatch(['payload', 'signals', index, 'tenantId'], 'Must equal the envelope tenantId');
      }
    });
  });

/** See {@link signalsAcceptedEventSchema}. */
export type SignalsAcceptedEvent = z.output<typeof signalsAcceptedEventSchema>;

/**
 * Any event the outbox relay may read, discriminated by `type`. One member
 * today; new event kinds are added here so the relay's `switch` stays exhaustive.
 */
export const outboxEventSchema = z.discriminatedUnion('type', [signalsAcceptedEventSchema]);

/** See {@link outboxEventSchema}. */
export type OutboxEvent = z.output<typeof outboxEventSchema>;

/** Every outbox event `type`. */
export type OutboxEventType = OutboxEvent['type'];
