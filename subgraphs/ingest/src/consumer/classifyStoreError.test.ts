import { describe, expect, it } from 'vitest';
import { classifyStoreError, describeStoreError } from './classifyStoreError';

/** What node-postgres throws for an error the server reports: an Error with the SQLSTATE as `code`. */
const pgError = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

describe('classifyStoreError', () => {
  it.each([
    ['22P05', 'unsupported Unicode escape sequence'],
    ['22021', 'invalid byte sequence for encoding "UTF8": 0x00'],
    ['22003', 'value out of range for type double precision'],
    ['23514', 'new row violates check constraint'],
    ['23502', 'null value in column "source" violates not-null constraint'],
    ['54000', 'index row requires 9000 bytes, maximum size is 8191'],
  ])('blames the records for %s (%s)', (code, message) => {
    expect(classifyStoreError(pgError(code, message))).toBe('record');
  });

  it.each([
    ['08006', 'connection failure'],
    ['53300', 'too many connections for database'],
    ['57P01', 'terminating connection due to administrator command'],
    ['57P03', 'the database system is starting up'],
    ['40001', 'could not serialize access'],
    ['40P01', 'deadlock detected'],
    ['55P03', 'could not obtain lock'],
  ])('retries %s (%s)', (code, message) => {
    expect(classifyStoreError(pgError(code, message))).toBe('transient');
  });

  it('retries socket errors and the connection errors node-postgres throws without a code', () => {
    expect(classifyStoreError(pgError('ECONNREFUSED'))).toBe('transient');
    expect(classifyStoreError(new Error('Connection terminated unexpectedly'))).toBe('transient');
    expect(classifyStoreError(new AggregateError([pgError('ECONNREFUSED'), pgError('ECONNREFUSED')]))).toBe('transient');
    expect(classifyStoreError(new Error('wrapped', { cause: pgError('57P01') }))).toBe('transient');
  });

  it('calls anything else unknown, which is retried too, never dead-lettered', () => {
    expect(classifyStoreError(pgError('42883', 'function ingest_store_signals does not exist'))).toBe('unknown');
    expect(classifyStoreError(pgError('42501', 'permission denied for table signal_ledger'))).toBe('unknown');
    expect(classifyStoreError(new TypeError('x is undefined'))).toBe('unknown');
    expect(classifyStoreError('a string')).toBe('unknown');
  });
});

describe('describeStoreError', () => {
  it('puts the SQLSTATE before the message', () => {
    expect(describeStoreError(pgError('22P05', 'unsupported Unicode escape sequence'))).toBe('22P05 unsupported Unicode escape sequence');
    expect(describeStoreError(new Error('no code'))).toBe('no code');
  });
});
