import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AlwaysOnSampler, InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createPgPool, inTransaction, type PgPool } from './postgres';

const exported = new InMemorySpanExporter();
let database: TestDatabase;
let pool: PgPool;

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(
    new TracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [new SimpleSpanProcessor({ exporter: exported })] }),
  );
  database = await createTestDatabase(inject('services'));
  pool = createPgPool(database.adminUrl, { traceQueries: true });
});
afterAll(async () => {
  await pool?.end();
  await database?.drop();
  trace.disable();
  context.disable();
});
beforeEach(() => exported.reset());

/** Runs `work` in a recorded span named `request`, as a sampled request's work runs. */
const inRequest = <T>(work: () => Promise<T>) =>
  trace.getTracer('test').startActiveSpan('request', async (span) => {
    try {
      return await work();
    } finally {
      span.end();
    }
  });

const querySpans = () =>
  exported
    .getFinishedSpans()
    .filter((span) => span.name !== 'request')
    .map((span) => ({ name: span.name, parent: span.parentSpanContext?.spanId, attributes: span.attributes }));

describe('createPgPool({ traceQueries: true })', () => {
  it("records pool.query (pg's callback form) and a transaction's queries (the promise form) as client spans of the request", async () => {
    const requestSpanId = await inRequest(async () => {
      expect((await pool.query<{ n: number }>('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
      await inTransaction(pool, (client) => client.query('SELECT $1::int AS n', [2]));
      return trace.getActiveSpan()!.spanContext().spanId;
    });
    const database = new URL(pool.options.connectionString!).pathname.slice(1);
    expect(querySpans().map((span) => [span.name, span.parent, span.attributes['db.query.text']])).toEqual([
      [`pg.query:SELECT ${database}`, requestSpanId, 'SELECT 1 AS n'],
      [`pg.query:BEGIN ${database}`, requestSpanId, 'BEGIN'],
      [`pg.query:SELECT ${database}`, requestSpanId, 'SELECT $1::int AS n'],
      [`pg.query:COMMIT ${database}`, requestSpanId, 'COMMIT'],
    ]);
    expect(querySpans()[0]!.attributes).toMatchObject({
      'db.system.name': 'postgresql',
      'db.namespace': database,
      'db.operation.name': 'SELECT',
    });
  });

  it('fails a failed query in its span and to its caller, in both forms', async () => {
    await inRequest(async () => {
      await expect(pool.query('SELECT * FROM no_such_table')).rejects.toThrow('no_such_table');
      await expect(inTransaction(pool, (client) => client.query('SELECT * FROM no_such_table'))).rejects.toThrow('no_such_table');
    });
    const failed = exported.getFinishedSpans().filter((span) => span.attributes['db.query.text'] === 'SELECT * FROM no_such_table');
    expect(failed.map((span) => span.status.code)).toEqual([2, 2]);
  });

  it('starts no span for a query outside recorded work', async () => {
    expect((await pool.query<{ n: number }>('SELECT 3 AS n')).rows).toEqual([{ n: 3 }]);
    expect(exported.getFinishedSpans()).toEqual([]);
  });
});
