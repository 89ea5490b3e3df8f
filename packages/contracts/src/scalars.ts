// String.prototype.isWellFormed is ES2024 (Node ≥ 20 has it); the repo's lib is
// ES2023, so this file asks for that one declaration rather than widening every package.
/// <reference lib="es2024.string" />
import { z } from 'zod';

/** Longest tenant id accepted anywhere (it is a key in every table and log line). */
export const TENANT_ID_MAX_LENGTH = 128;

/** Rule word of a string the stores cannot keep as sent (see {@link isStorableString}). */
export const STORABLE_STRING_RULE = 'storable_string';

const UNSTORABLE_MESSAGE = 'Must not contain a NUL character (U+0000) or a lone UTF-16 surrogate';

/**
 * True when every store of the platform keeps `value` exactly as sent: it has
 * no NUL character (Postgres `text` and `jsonb` refuse U+0000) and no lone
 * UTF-16 surrogate (`jsonb` refuses `\ud800`; encoding one to UTF-8 for a
 * `text` column or Neo4j silently turns it into U+FFFD, so it would not be
 * kept as sent). Strings are not NFC-normalised: what passes is stored and
 * compared byte for byte as the producer wrote it, so `é` precomposed and
 * `e` + combining accent are two different values.
 */
export function isStorableString(value: string): boolean {
  return value.isWellFormed() && !value.includes('\u0000');
}

/**
 * The one definition of a string a contract may carry: any string for which
 * {@link isStorableString} holds, else rule `storable_string`. Every string
 * field of every contract is built on it (mostly through {@link boundedString}),
 * so a value refused by a store is refused at the edge as a 400 or a
 * dead-lettered record instead of a 500 or a stalled partition.
 * `abort`: a string that cannot be stored gets that one issue, not also
 * length or pattern issues computed on characters it should not contain.
 */
export const storableStringSchema = z.string().refine(isStorableString, {
  error: UNSTORABLE_MESSAGE,
  params: { rule: STORABLE_STRING_RULE },
  abort: true,
});

/**
 * Adds a `storable_string` issue, at its path, for every object key and
 * string inside a JSON-like value that {@link isStorableString} refuses. For
 * free-form JSON (command payloads, provider payloads), where a string schema
 * cannot be put on each field: a union or `z.json()` would report a bad leaf
 * as `type` or not at all. Walks with its own stack, so a deeply nested value
 * cannot exhaust the call stack.
 */
export function addUnstorableStringIssues(value: unknown, ctx: z.RefinementCtx): void {
  const pending: { value: unknown; path: PropertyKey[] }[] = [{ value, path: [] }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value: current, path } = next;
    if (typeof current === 'string') {
      if (!isStorableString(current)) ctx.addIssue(unstorableIssue(path));
    } else if (Array.isArray(current)) {
      current.forEach((item: unknown, index) => pending.push({ value: item, path: [...path, index] }));
    } else if (current !== null && typeof current === 'object') {
      for (const [key, item] of Object.entries(current)) {
        if (!isStorableString(key)) ctx.addIssue(unstorableIssue([...path, key]));
        pending.push({ value: item, path: [...path, key] });
      }
    }
  }
}

function unstorableIssue(path: PropertyKey[]) {
  return {
    code: 'custom' as const,
    path,
    message: UNSTORABLE_MESSAGE,
    params: { rule: STORABLE_STRING_RULE },
  };
}

/**
 * A storable string (see {@link storableStringSchema}) of 1..`maxLength`
 * characters (UTF-16 code units). Used for free-form identifiers and labels
 * so that every field has an upper bound and an empty string is never
 * mistaken for a value.
 */
export function boundedString(maxLength: number): z.ZodString {
  return storableStringSchema.min(1, { error: 'Must not be empty' }).max(maxLength, { error: `Must be at most ${maxLength} characters` });
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
export const isoDateTimeSchema = z.iso
  .datetime({
    offset: true,
    error: 'Must be an ISO-8601 date-time with a zone, e.g. 2024-05-01T12:00:00Z',
  })
  .superRefine((value, ctx) => {
    // A malformed value is already reported as `format`.
    if (ctx.issues.length > 0 || isStorableInstant(value)) return;
    ctx.addIssue({
      code: 'custom',
      message: `Must be in the years 0001..9999 with a zone offset of at most ±${MAX_ZONE_OFFSET_HOURS}:59`,
      params: { rule: 'storable_instant' },
    });
  });

/**
 * Largest zone offset, in whole hours, that Postgres `timestamptz` takes
 * (±15:59); ISO-8601 allows up to ±23:59, no zone in use exceeds ±14:00.
 */
export const MAX_ZONE_OFFSET_HOURS = 15;

/**
 * What every store can hold of a well-formed ISO date-time: Postgres refuses
 * year 0000 (it counts 1 BC, 1 AD) and offsets beyond ±15:59, which zod's
 * ISO check lets through. Written without look-arounds so that the JSON
 * Schema (packages/contracts/json-schema) can carry it to any regex engine.
 */
export const STORABLE_INSTANT_PATTERN = /^(?:000[1-9]|00[1-9]\d|0[1-9]\d{2}|[1-9]\d{3}).*(?:Z|[+-](?:0\d|1[0-5]):\d{2})$/;

function isStorableInstant(value: string): boolean {
  return STORABLE_INSTANT_PATTERN.test(value);
}

/** ISO-8601 duration such as `PT24H` or `P7D`. */
export const isoDurationSchema = z.iso.duration({ error: 'Must be an ISO-8601 duration, e.g. PT24H' });

/** RFC 9562 UUID (any version; `crypto.randomUUID()` produces a valid one). */
export const uuidSchema = z.uuid();

/** Lowercase hex sha256 digest (64 characters). */
export const sha256HexSchema = storableStringSchema.regex(/^[0-9a-f]{64}$/, { error: 'Must be a lowercase hex sha256 digest' });

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
