import { z } from 'zod';
import { addUnstorableStringIssues, boundedString, correlationIdSchema, isoDateTimeSchema, tenantIdSchema, uuidSchema } from './scalars';

/** Channels comms can send on or receive from. */
export const commsChannelSchema = z.enum(['sms', 'webhook', 'email']);

/** See {@link commsChannelSchema}. */
export type CommsChannel = z.output<typeof commsChannelSchema>;

/** Whether a provider delivered the message to us or we handed it to the provider. */
export const commsDirectionSchema = z.enum(['inbound', 'outbound']);

/** See {@link commsDirectionSchema}. */
export type CommsDirection = z.output<typeof commsDirectionSchema>;

/**
 * Raw provider payload as form/query fields: repeated fields become arrays.
 * Kept raw so a parsing bug can be fixed and replayed from the record. Every
 * key and value must be storable (rule `storable_string` at its path); that
 * is checked over the whole record because a union would report it as `type`.
 */
export const providerPayloadSchema = z
  .record(z.string(), z.union([z.string(), z.array(z.string())]))
  .superRefine(addUnstorableStringIssues);

/** See {@link providerPayloadSchema}. */
export type ProviderPayload = z.output<typeof providerPayloadSchema>;

/** One inbound or outbound message as recorded by comms, before any interpretation. Strict. */
export const commsEnvelopeSchema = z.strictObject({
  envelopeId: uuidSchema,
  tenantId: tenantIdSchema,
  channel: commsChannelSchema,
  direction: commsDirectionSchema,
  /** Provider name, e.g. `twilio`, `smtp`. */
  provider: boundedString(64),
  /** The provider's own id (message SID, SMTP Message-ID); absent until the provider assigns one. */
  providerMessageId: boundedString(256).optional(),
  correlationId: correlationIdSchema,
  /** When comms received (inbound) or recorded (outbound) the message. */
  receivedAt: isoDateTimeSchema,
  payload: providerPayloadSchema,
});

/** See {@link commsEnvelopeSchema}. */
export type CommsEnvelope = z.output<typeof commsEnvelopeSchema>;
