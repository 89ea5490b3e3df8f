import { error as neo4jErrorCodes, Neo4jError } from 'neo4j-driver';

/** Socket errors of Node's net and dns layers: the peer could not be reached or went away. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Postgres SQLSTATEs that say the server, not the statement, is the problem:
 * class 08 (connection exception), 53 (insufficient resources: too many
 * connections, disk full, out of memory) and 57P01–57P03 (shut down, crashed,
 * not accepting connections yet).
 */
const isUnavailablePostgresState = (state: string): boolean => /^(08|53)/.test(state) || /^57P0[123]$/.test(state);

/** What node-postgres throws, without a code, when a connection dies or cannot be had. */
const PG_CONNECTION_MESSAGES = [
  /^Connection terminated/,
  /timeout exceeded when trying to connect/,
  /^Client has encountered a connection error/,
];

/**
 * True when `error` says a dependency (Postgres or Neo4j) could not be talked
 * to, as opposed to refusing what the relay asked of it. Such a failure is no
 * event's fault and must never count towards quarantining one. Follows
 * `cause` and the members of an AggregateError (Node reports a refused
 * connection to a dual-stack host as one).
 */
export function isConnectionError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
    if (current instanceof Neo4jError) {
      return current.code === neo4jErrorCodes.SERVICE_UNAVAILABLE || current.code === neo4jErrorCodes.SESSION_EXPIRED;
    }
    const { code, message } = current as Error & { code?: unknown };
    if (typeof code === 'string' && (SOCKET_CODES.has(code) || isUnavailablePostgresState(code))) return true;
    if (PG_CONNECTION_MESSAGES.some((pattern) => pattern.test(message))) return true;
    if (current instanceof AggregateError && current.errors.some(isConnectionError)) return true;
    current = current.cause;
  }
  return false;
}
