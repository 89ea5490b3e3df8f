/** An error as Node, node-postgres and the Neo4j driver throw them: maybe a string `code`. */
export type CodedError = Error & { code?: unknown };

/**
 * True when `predicate` holds for `error`, one of its `cause`s or a member of
 * an AggregateError among them (Node reports a refused connection to a
 * dual-stack host as one). The walk is depth-capped: causes can form a cycle.
 */
export function someCause(error: unknown, predicate: (error: CodedError) => boolean, depth = 0): boolean {
  if (depth > 5 || !(error instanceof Error)) return false;
  if (predicate(error)) return true;
  if (error instanceof AggregateError && error.errors.some((member) => someCause(member, predicate, depth + 1))) return true;
  return someCause(error.cause, predicate, depth + 1);
}

/** The SQLSTATE (or Node error code) of `error` itself, if it has one. */
export const errorCode = (error: CodedError): string | undefined => (typeof error.code === 'string' ? error.code : undefined);

/**
 * Node's socket and DNS errors, and undici's (Node's fetch) for a peer that
 * closed the connection, never accepted it, or did not answer in time: the
 * peer could not be reached, went away or hangs.
 */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/**
 * SQLSTATEs that say the Postgres server, not the statement, is the problem:
 * class 08 (connection exception), 53 (insufficient resources: too many
 * connections, disk full, out of memory) and 57P01–57P03 (shut down,
 * crashed, not accepting connections yet).
 */
const UNAVAILABLE_STATE = /^(08|53|57P0[123]$)/;

/** What node-postgres throws, without a code, when a connection dies or cannot be had. */
const PG_CONNECTION_MESSAGES = [
  /^Connection terminated/,
  /timeout exceeded when trying to connect/,
  /^Client has encountered a connection error/,
];

/**
 * True when `error` says Postgres (or any peer over a socket) could not be
 * talked to, as opposed to refusing what was asked of it. Such a failure is
 * no input's fault: callers retry it and never blame (quarantine, dead-letter)
 * the record or event they were handling.
 */
export function isUnreachableError(error: unknown): boolean {
  return someCause(error, (cause) => {
    const code = errorCode(cause);
    if (code !== undefined && (SOCKET_CODES.has(code) || UNAVAILABLE_STATE.test(code))) return true;
    return PG_CONNECTION_MESSAGES.some((pattern) => pattern.test(cause.message));
  });
}

/**
 * SQLSTATEs caused by the values written (PostgreSQL appendix A): class 22
 * data exception (untranslatable character, invalid text, out-of-range
 * numbers, jsonb's "unsupported Unicode escape sequence"), class 23 integrity
 * constraint violation (CHECK, NOT NULL, UNIQUE) and class 54 program limit
 * exceeded (an index row or statement too large).
 */
const DATA_STATE = /^(22|23|54)/;

/**
 * True when Postgres refused the values of a write: written again, the same
 * row fails again, so callers set it aside (dead-letter, quarantine) instead
 * of retrying it forever ahead of everything behind it.
 */
export function isRefusedDataError(error: unknown): boolean {
  return someCause(error, (cause) => DATA_STATE.test(errorCode(cause) ?? ''));
}
