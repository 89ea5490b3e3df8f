import { validate, type Signal, type ValidationIssue } from '@coherence/contracts';
import type { z } from 'zod';

/** Why a record went to the dead-letter topic (the `dlq-reason` header, as JSON). */
export interface DeadLetterReason {
  code: 'EMPTY_VALUE' | 'MALFORMED_JSON' | 'INVALID_SIGNAL';
  issues: ValidationIssue[];
}

// Fatal: Buffer#toString would turn bytes that are not UTF-8 into U+FFFD and
// store what the producer never wrote.
const utf8 = new TextDecoder('utf-8', { fatal: true });

export type DecodedRecord = { ok: true; signal: Signal } | { ok: false; reason: DeadLetterReason };

/**
 * One Kafka record to a signal: the value is one signal as JSON, validated
 * exactly like an element of an HTTP batch; the key, when set, must be the
 * signal's tenant (keys decide partitions, and so per-tenant ordering).
 * Whatever the stores would refuse is refused here, so it goes to the DLQ
 * instead of failing the write: e.g. a `\u0000` or lone `\ud800` escape in a
 * string is INVALID_SIGNAL with rule `storable_string`, a weight over 1e6 `max`.
 */
export function decodeSignalRecord(signalSchema: z.ZodType<Signal>, record: { key: Buffer | null; value: Buffer | null }): DecodedRecord {
  if (record.value === null || record.value.length === 0) {
    return { ok: false, reason: { code: 'EMPTY_VALUE', issues: [{ path: '', rule: 'required', message: 'The record has no value' }] } };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(record.value));
  } catch {
    return {
      ok: false,
      reason: { code: 'MALFORMED_JSON', issues: [{ path: '', rule: 'format', message: 'The value is not valid UTF-8 JSON' }] },
    };
  }
  const result = validate(signalSchema, parsed);
  if (!result.ok) return { ok: false, reason: { code: 'INVALID_SIGNAL', issues: result.issues } };
  const key = record.key?.toString('utf8');
  if (key !== undefined && key !== '' && key !== result.value.tenantId) {
    return {
      ok: false,
      reason: {
        code: 'INVALID_SIGNAL',
        issues: [{ path: 'tenantId', rule: 'tenant_mismatch', message: 'The record key must be the signal’s tenantId' }],
      },
    };
  }
  return { ok: true, signal: result.value };
}
