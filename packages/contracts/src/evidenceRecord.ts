import { z } from 'zod';
import { boundedString, correlationIdSchema, isoDateTimeSchema, tenantIdSchema, uuidSchema } from './scalars';

/** Who caused a recorded change: the platform itself or a named operator. */
export const evidenceActorSchema = z.strictObject({
  type: z.enum(['system', 'operator']),
  /** Operator `sub`, or the component name for `system`. */
  id: boundedString(256),
});

/** See {@link evidenceActorSchema}. */
export type EvidenceActor = z.output<typeof evidenceActorSchema>;

/**
 * An append-only audit row: who did what to which subject, and why.
 * `fromState`/`toState` are set for state transitions (e.g. a command moving
 * from `failed` to `retrying`). Strict.
 */
export const evidenceRecordSchema = z.strictObject({
  evidenceId: uuidSchema,
  tenantId: tenantIdSchema,
  /** What happened, e.g. `command.retried`, `policy.bundle.activated`. */
  kind: boundedString(128),
  actor: evidenceActorSchema,
  /** Kind of the thing acted on, e.g. `DispatchCommand`. */
  subjectType: boundedString(128),
  subjectId: boundedString(256),
  fromState: boundedString(64).optional(),
  toState: boundedString(64).optional(),
  /** Why; operator mutations require one. */
  reason: boundedString(2048),
  recordedAt: isoDateTimeSchema,
  correlationId: correlationIdSchema,
});

/** See {@link evidenceRecordSchema}. */
export type EvidenceRecord = z.output<typeof evidenceRecordSchema>;
