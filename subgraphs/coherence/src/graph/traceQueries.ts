import { inClientSpan, statementKeyword } from '@coherence/telemetry';
import type { Driver } from 'neo4j-driver';

/**
 * Neo4j has no maintained OpenTelemetry instrumentation, so every query of
 * this driver (all of them go through `executeQuery`) runs in a client span
 * of its own here, in one place (docs/adr/0020-traces.md): `neo4j <first
 * Cypher keyword>`, with the parameterised Cypher (values stay in
 * parameters, never in the span). Only inside traced work, like the `pg`
 * instrumentation: a query with no span around it starts no trace.
 */
export function traceQueries(driver: Driver, url: string): Driver {
  const executeQuery = driver.executeQuery.bind(driver);
  const { hostname, port } = new URL(url);
  driver.executeQuery = ((query: string, ...rest: unknown[]) => {
    const run = () => (executeQuery as (...args: unknown[]) => ReturnType<Driver['executeQuery']>)(query, ...rest);
    return inClientSpan(() => {
      const operation = statementKeyword(query);
      return {
        name: `neo4j ${operation}`,
        attributes: {
          'db.system.name': 'neo4j',
          'db.operation.name': operation,
          'db.query.text': query,
          'server.address': hostname,
          'server.port': Number(port || 7687),
        },
      };
    }, run);
  }) as Driver['executeQuery'];
  return driver;
}
