import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { maskUnexpectedErrors } from './mountSubgraph';

/** What Apollo hands formatError for a resolver that threw `thrown`: the formatted error and the GraphQLError wrapping it. */
const format = (thrown: Error) => {
  const wrapped = new GraphQLError(thrown.message, { path: ['tenantCoherence'], originalError: thrown });
  return maskUnexpectedErrors(
    { message: thrown.message, path: ['tenantCoherence'], extensions: { code: 'INTERNAL_SERVER_ERROR' } },
    wrapped,
  );
};

describe('maskUnexpectedErrors', () => {
  it('answers SERVICE_UNAVAILABLE with a retry hint when a dependency could not be reached (a refused connection, a Postgres restart)', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:5432'), { code: 'ECONNREFUSED' });
    const restarting = Object.assign(new Error('the database system is shutting down'), { code: '57P01' });
    for (const error of [refused, restarting, new Error('query failed', { cause: refused })])
      expect(format(error)).toEqual({
        message: 'a dependency is unavailable; retry shortly',
        path: ['tenantCoherence'],
        extensions: { code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 2 },
      });
  });

  it('masks anything else as INTERNAL, message and all', () => {
    expect(format(new TypeError('cannot read properties of undefined (secret internals)'))).toEqual({
      message: 'internal error',
      path: ['tenantCoherence'],
      extensions: { code: 'INTERNAL' },
    });
  });

  it('lets an error with a code of ours through as it is', () => {
    const formatted = { message: 'over the limit', extensions: { code: 'RATE_LIMITED' } };
    expect(maskUnexpectedErrors(formatted, new GraphQLError('over the limit'))).toBe(formatted);
  });
});
