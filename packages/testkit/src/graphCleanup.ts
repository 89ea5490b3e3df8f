import type { Driver } from 'neo4j-driver';

/**
 * Deletes a test's nodes from the shared Neo4j (the graph outlives the test's
 * database): every node whose `tenantId` or `id` starts with `prefix`, in
 * bounded transactions, because one DETACH DELETE of 100k nodes exceeds
 * Neo4j's transaction memory.
 */
export async function deleteGraphOf(driver: Driver, prefix: string): Promise<void> {
  for (let deleted = 1; deleted > 0;) {
    const { records } = await driver.executeQuery(
      'MATCH (n) WHERE n.tenantId STARTS WITH $prefix OR n.id STARTS WITH $prefix WITH n LIMIT 10000 DETACH DELETE n RETURN count(*) AS n',
      { prefix },
    );
    deleted = records[0]!.get('n') as number;
  }
}
