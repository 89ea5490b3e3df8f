import { isUnreachableError, someCause } from '@coherence/platform';
import { error as neo4jErrorCodes, Neo4jError } from 'neo4j-driver';

const NEO4J_UNAVAILABLE = new Set<string>([neo4jErrorCodes.SERVICE_UNAVAILABLE, neo4jErrorCodes.SESSION_EXPIRED]);

/**
 * True when `error` says a dependency (Postgres or Neo4j) could not be talked
 * to, as opposed to refusing what the relay asked of it. Such a failure is no
 * event's fault and must never count towards quarantining one.
 */
export function isConnectionError(error: unknown): boolean {
  return isUnreachableError(error) || someCause(error, (cause) => cause instanceof Neo4jError && NEO4J_UNAVAILABLE.has(cause.code));
}
