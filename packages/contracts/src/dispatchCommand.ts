import { z } from 'zod';
import {
  addUnstorableStringIssues,
  boundedString,
  correlationIdSchema,
  idempotencyKeySchema,
  isoDateTimeSchema,
  tenantIdSchema,
  uuidSchema,
} from './scalars';

/** Upper bound for `maxAttempts`, so a typo cannot create a command that retries forever. */
export const MAX_DISPATCH_ATTEMPTS = 100;

/**
 * JSON-serialisable command payload (object at the top level) whose keys and
 * strings, at any depth, are storable (rule `storable_string` at their path):
 * the payload is kept in a `jsonb` column.
 */
export const commandPayloadSchema = z.record(z.string(), z.json()).superRefine(addUnstorableStringIssues);

/** See {@link commandPayloadSchema}. */
export type CommandPayload = z.output<typeof commandPayloadSchema>;

/** A command on the comms command bus (e.g. "send this SMS"). Strict. */
export const dispatchCommandSchema = z.strictObject({
  commandId: uuidSchema,
  tenantId: tenantIdSchema,
  /** Command name, e.g. `notify.sms`; selects the handler. */
  type: boundedString(128),
  /** Same key ⇒ same command: enqueueing twice yields one command. */
  idempotencyKey: idempotencyKeySchema,
  correlationId: correlationIdSchema,
  payload: commandPayloadSchema,
  /** Earliest time to attempt (quiet hours, backoff); absent means "now". */
  notBefore: isoDateTimeSchema.optional(),
  /** Attempts before the command goes to the troubleshooting queue; 1..100. */
  maxAttempts: z.int().min(1).max(MAX_DISPATCH_ATTEMPTS),
});

/** See {@link dispatchCommandSchema}. */
export type DispatchCommand = z.output<typeof dispatchCommandSchema>;
