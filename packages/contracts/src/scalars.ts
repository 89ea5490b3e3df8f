import { z } from 'zod';

/** Longest tenant id accepted anywhere (it is a key in every table and log line). */
export const TENANT_ID_MAX_LENGTH = 128;

/**
 * A string of 1..`maxLength` characters. Used for free-form identifiers and
 * labels so that every field has an upper bound and an empty string is never
 * mistaken for a value.
 */
export function boundedString(maxLength: number): z.ZodString {
  return z
    .string()
    .min(1, { error: 'Must not be empty' })
    .max(maxLength, { error: `Must be at most ${maxLength} characters` });
}

/**
 * Tenant id: 1..128 characters from `[A-Za-z0-9._:-]`.
 * The character class keeps ids safe in URLs, Redis keys, Kafka keys and
 * Postgres `SET LOCAL app.tenant_id` without quoting.
 */
export const tenantIdSchema = boundedString(TENANT_ID_MAX_LENGTH).regex(/^[A-Za-z0-9._:-]*$/, {
  // `*` rather than `+`: emptiness is already reported once, as `min`.
  error: 'May only contain letters, digits, ".", "_", ":" and "-"',
});

/** ISO-8601 / RFC 3339 date-time that carries its zone (`Z` or `±hh:mm`); calendar-checked (no Feb 30). */
export const isoDateTimeSchema = z.iso.datetime({
  offset: true,
  error: 'Must be an ISO-8601 date-time with a zone, e.g. 2024-05-01T12:00:00Z',
});

/** ISO-8601 duration such as `PT24H` or `P7D`. */
export const isoDurationSchema = z.iso.duration({ error: 'Must be an ISO-8601 duration, e.g. PT24H' });

/** RFC 9562 UUID (any version; `crypto.randomUUID()` produces a valid one). */
export const uuidSchema = z.uuid();

/** Lowercase hex sha256 digest (64 characters). */
export const sha256HexSchema = z.string().regex(/^[0-9a-f]{64}$/, { error: 'Must be a lowercase hex sha256 digest' });

/** A number in [0, 1]; NaN and ±Infinity are rejected by zod's number type. */
export const unitIntervalSchema = z.number().min(0).max(1);

/** Longest correlation / request id accepted. */
export const CORRELATION_ID_MAX_LENGTH = 128;

// Visible ASCII only: the id is echoed into logs and headers, where spaces,
// control characters and non-ASCII invite log injection and header splitting.
const CORRELATION_ID_PATTERN = /^[\x21-\x7e]+$/;

/**
 * Correlation id: 1..128 visible ASCII characters. In practice a W3C trace id
 * (32 hex) or a legacy `x-request-id` value (often a UUID).
 */
export const correlationIdSchema = boundedString(CORRELATION_ID_MAX_LENGTH).regex(/^[\x21-\x7e]*$/, {
  error: 'May only contain visible ASCII characters',
});

/** True when `value` is acceptable as a correlation / request id (same rule as {@link correlationIdSchema}). */
export function isCorrelationId(value: string): boolean {
  return value.length <= CORRELATION_ID_MAX_LENGTH && CORRELATION_ID_PATTERN.test(value);
}

/** Idempotency key (HTTP `Idempotency-Key`, GraphQL `idempotencyKey`, command keys): 1..256 visible ASCII. */
export const idempotencyKeySchema = boundedString(256).regex(/^[\x21-\x7e]*$/, {
  error: 'May only contain visible ASCII characters',
});
