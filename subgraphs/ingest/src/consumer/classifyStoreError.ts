/**
 * Why storing Kafka records failed, which decides what the consumer does:
 *
 * - `record`: Postgres refused these records' data. Stored on its own, such a
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
 * SQLSTATEs caused by the values stored (PostgreSQL appendix A): class 22
 * data exception (22P05 untranslatable character and 22P02 invalid text,
 * 2200x, out-of-range numbers, jsonb's "unsupported Unicode escape
 * sequence"), class 23 integrity constraint violation (CHECK, NOT NULL) and
 * class 54 program limit exceeded (an index row or statement too large).
 */
const RECORD_STATE = /^(22|23|54)/;

/**
 * SQLSTATEs of an unavailable or busy server: class 08 connection
 * exception, class 53 insufficient resources (too many connections, disk
 * full, out of memory), class 57 operator intervention (shutdown, crash
 * recovery, cancelled statement), 40001 serialization failure, 40P01
 * deadlock, 40003 statement completion unknown, 55P03 lock not available.
 */
const TRANSIENT_STATE = /^(08|53|57|40001$|40P01$|40003$|55P03$)/;

/** Node's socket and DNS errors: Postgres could not be reached or went away. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** What node-postgres throws, without a code, when a connection dies or cannot be had. */
const PG_CONNECTION_MESSAGES = [
  /^Connection terminated/,
  /timeout exceeded when trying to connect/,
  /^Client has encountered a connection error/,
];

/**
 * Classifies an error thrown by `storeSignals`, by SQLSTATE first. Follows
 * `cause` and the members of an AggregateError (Node reports a refused
 * connection to a dual-stack host as one).
 */
export function classifyStoreError(error: unknown): StoreErrorKind {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
    const { code, message } = current as Error & { code?: unknown };
    if (typeof code === 'string') {
      if (RECORD_STATE.test(code)) return 'record';
      if (TRANSIENT_STATE.test(code) || SOCKET_CODES.has(code)) return 'transient';
    }
    if (PG_CONNECTION_MESSAGES.some((pattern) => pattern.test(message))) return 'transient';
    if (current instanceof AggregateError && current.errors.some((member) => classifyStoreError(member) === 'transient'))
      return 'transient';
    current = current.cause;
  }
  return 'unknown';
}

/** `"<SQLSTATE> <message>"`, for the dead-letter reason and the logs. */
export function describeStoreError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { code } = error as Error & { code?: unknown };
  return typeof code === 'string' ? `${code} ${error.message}` : error.message;
}
