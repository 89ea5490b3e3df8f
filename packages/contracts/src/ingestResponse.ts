import { z } from 'zod';
import { storableStringSchema } from './scalars';
import { validationIssueSchema } from './validationIssue';

/** 202 body of `POST /v1/signals`, sent after commit. */
export const ingestAcceptedSchema = z.strictObject({
  /** Signals newly stored. */
  accepted: z.int().min(0),
  /** Signals whose key was already stored (not counted in `accepted`). */
  deduped: z.int().min(0),
});

/** See {@link ingestAcceptedSchema}. */
export type IngestAccepted = z.output<typeof ingestAcceptedSchema>;

/**
 * Error body of the HTTP APIs: `{ error: { code, message?, issues?, fields? } }`.
 * `issues` lists every validation problem (400 `INVALID_SIGNAL`); `fields`
 * names the fields that differ on an idempotency replay (409 `IDEMPOTENCY_MISMATCH`).
 */
export const errorResponseSchema = z.strictObject({
  error: z.strictObject({
    /** UPPER_SNAKE code from the emitting package's error registry. */
    code: storableStringSchema.regex(/^[A-Z][A-Z0-9_]*$/),
    message: storableStringSchema.optional(),
    /** A stable sub-code under `code`, e.g. TOKEN_EXPIRED under UNAUTHENTICATED, TENANT_MISMATCH under FORBIDDEN. */
    reason: storableStringSchema.regex(/^[A-Z][A-Z0-9_]*$/).optional(),
    issues: z.array(validationIssueSchema).optional(),
    fields: z.array(storableStringSchema).optional(),
  }),
});

/** See {@link errorResponseSchema}. */
export type ErrorResponse = z.output<typeof errorResponseSchema>;
