import { createNeo4jDriver } from '@coherence/coherence';
import { deleteGraphOf } from '@coherence/testkit';
import { randomBytes } from 'node:crypto';
import { afterAll, expect, inject, it } from 'vitest';
import { runBackupRestoreDrill } from '../scripts/drills/backupRestore';

/**
 * The backup-restore drill's short version (`npm run drill -- backup-restore --duration 20s`): its own
 * durable Postgres primary behind the real HTTP ingest (the shared servers give only Redis, for the
 * limiter, and Neo4j, for the rebuild, under a tenant prefix of this file), a base backup and WAL
 * archiving under load, a restore to an instant T in the middle of the load, the graph rebuilt from
 * the restored ledger.
 */
const services = inject('services');
const tenantPrefix = `drill-${randomBytes(4).toString('hex')}`;

afterAll(async () => {
  const driver = createNeo4jDriver(services.neo4jBoltUrl);
  await deleteGraphOf(driver, tenantPrefix);
  await driver.close();
});

it('restores every signal acknowledged before T and none sent after it, and rebuilds the graph the restored ledger implies', async () => {
  const report = await runBackupRestoreDrill({
    durationMs: 20_000,
    redisUrl: services.redisUrl,
    neo4jBoltUrl: services.neo4jBoltUrl,
    tenantPrefix,
  });

  const reconciliation = report.reconciliation;
  // Both sides of T had real load, or the proof below would be empty.
  expect(reconciliation.acknowledgedBeforeTarget).toBeGreaterThan(100);
  expect(reconciliation.startedAfterTarget).toBeGreaterThan(50);
  expect(reconciliation).toMatchObject({ lost: 0, lostIds: [], presentAfterTarget: 0, presentAfterTargetIds: [], unknownRestored: 0 });
  // The restored ledger is exactly those acknowledged before T plus some of those in flight at T.
  const restored = report.rebuild.checks.reduce((sum, check) => sum + check.ledgerSignals, 0);
  expect(restored).toBe(
    reconciliation.acknowledgedBeforeTarget + reconciliation.inFlightPresent + reconciliation.refusedBeforeTargetPresent,
  );
  expect(report.rebuild.checks.map((check) => check.tenantId).sort()).toEqual(report.tenants);
  for (const check of report.rebuild.checks) {
    expect(check).toMatchObject({ matches: true, graphSignals: check.ledgerSignals, storedScore: check.expectedScore });
    expect(check.ledgerSignals).toBeGreaterThan(0);
  }
  expect(report.rebuild.signals).toBe(restored);
  expect(report.rto.totalMs).toBe(
    report.rto.prepareMs + report.rto.startAndRecoverMs + report.rto.graphSchemaMs + report.rto.graphRebuildMs,
  );
  expect(report.rpo.walArchiveLag.afterBaseBackup.samples).toBeGreaterThan(0);
  expect(report.pass).toBe(true);
}, 240_000);
