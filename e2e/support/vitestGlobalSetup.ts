import { adminQuery, adminUrl, startServices, TEMPLATE_DATABASE, type RunningServices } from '@coherence/devservices';
import { defaultFlagStates } from '@coherence/flags';
import { migrateDatabase } from '@coherence/migrations';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

let running: RunningServices | undefined;
let rootDir: string | undefined;

/**
 * Vitest global setup for integration and end-to-end tests: the servers
 * start once per run (the JVMs take seconds), a migrated template database
 * is made once, and each test file then copies its own database from it.
 */
export async function setup(project: TestProject): Promise<void> {
  rootDir = mkdtempSync(join(tmpdir(), 'coherence-test-'));
  const startedAt = Date.now();
  running = await startServices({ rootDir, unleashFlags: defaultFlagStates });
  process.stderr.write(`[devservices] services up in ${Date.now() - startedAt} ms (logs: ${running.logDir})\n`);
  await adminQuery(running.endpoints, `CREATE DATABASE ${TEMPLATE_DATABASE}`);
  await migrateDatabase(adminUrl(running.endpoints, TEMPLATE_DATABASE));
  project.provide('services', running.endpoints);
}

export async function teardown(): Promise<void> {
  await running?.stop();
  // Keep the logs of a failed run for whoever reads the CI output.
  if (rootDir && process.exitCode !== 1 && !process.env['KEEP_TEST_DATA']) rmSync(rootDir, { recursive: true, force: true });
}
