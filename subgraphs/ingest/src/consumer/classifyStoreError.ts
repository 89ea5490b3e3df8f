import { errorCode, isRefusedDataError, isUnreachableError, someCause } from '@coherence/platform';

/**
 * Why storing Kafka records failed, which decides what the consumer does:
 *
 * - `record`: Postgres refused these records' data (`isRefusedDataError`:
 *   SQLSTATE class 22, 23 or 54). Stored on its own, such a
 *   record fails every time, so it goes to the dead-letter topic and its
 *   partition moves on.
 * - `transient`: the database could not be talked to or gave up on the
 *   transaction for reasons of its own. The same records are retried after a
 *   backoff, never skipped and never dead-lettered.
 * - `unknown`: anything else (a missing migration or grant, a bug). Retried
 *   like `transient` and logged as an error: dead-lettering on a reason no
 *   record is known to cause would empty the whole topic into the DLQ. A
 *   consumer stuck on it says so through `/readyz` and `ingest_consumer_stalled`.
 */
export type StoreErrorKind = 'record' | 'transient' | 'unknown';

/**
 * SQLSTATEs of a busy server, beyond the unreachable ones every service
 * retries (`isUnreachableError`): class 57 operator intervention (a
 * cancelled statement), 40001 serialization failure, 40P01 deadlock, 40003
 * statement completion unknown, 55P03 lock not available.
 */
const BUSY_STATE = /^(57|40001$|40P01$|40003$|55P03$)/;

/** Classifies an error thrown by `storeSignals`, by SQLSTATE first, through its causes. */
export function classifyStoreError(error: unknown): StoreErrorKind {
  if (isRefusedDataError(error)) return 'record';
  if (isUnreachableError(error) || someCause(error, (cause) => BUSY_STATE.test(errorCode(cause) ?? ''))) return 'transient';
  return 'unknown';
}

/** `"<SQLSTATE> <message>"`, for the dead-letter reason and the logs. */
export function describeStoreError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { code } = error as Error & { code?: unknown };
  return typeof code === 'string' ? `${code} ${error.message}` : error.message;
}
