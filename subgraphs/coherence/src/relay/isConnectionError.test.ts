import { error as neo4jErrorCodes, Neo4jError } from 'neo4j-driver';
import { describe, expect, it } from 'vitest';
import { isConnectionError } from './isConnectionError';

/** A node-postgres error as it arrives: an Error carrying the SQLSTATE in `code`. */
const postgresError = (code: string, message = 'postgres said no') => Object.assign(new Error(message), { code });

describe('isConnectionError', () => {
  it.each([
    ['a refused socket', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['a refused dual-stack connect', new AggregateError([Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })], 'connect failed')],
    ['Postgres shutting down (57P01)', postgresError('57P01')],
    ['a broken connection (08006)', postgresError('08006')],
    ['too many connections (53300)', postgresError('53300')],
    ['a connection that died mid-query', new Error('Connection terminated unexpectedly')],
    ['Neo4j unavailable', new Neo4jError('no server', neo4jErrorCodes.SERVICE_UNAVAILABLE, '08000', 'unavailable')],
    ['a cause that is one', new Error('batch failed', { cause: postgresError('08003') })],
  ])('is true for %s', (_, error) => {
    expect(isConnectionError(error)).toBe(true);
  });

  it.each([
    ['a check constraint (23514)', postgresError('23514', 'violates check constraint "coherence_scores_agreement_check"')],
    ['a raised exception (P0001)', postgresError('P0001', 'injected failure')],
    ['a Cypher error', new Neo4jError('Text cannot be parsed to a DateTime', 'Neo.ClientError.Statement.ArgumentError', '22000', 'bad')],
    [
      'a Neo4j transient error the driver already retried',
      new Neo4jError('deadlock', 'Neo.TransientError.Transaction.DeadlockDetected', '50N00', 'x'),
    ],
    ['not an error', 'ECONNREFUSED'],
  ])('is false for %s', (_, error) => {
    expect(isConnectionError(error)).toBe(false);
  });
});
