import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { extractOperations } from './extractOperations';
import { createManifest, manifestSchema } from './manifest';

/**
 * pq and Apollo's own generator must agree byte for byte on the operations
 * of this repo: same bodies, same ids, same order. Then a manifest made by
 * either tool loads in the gateway and in Apollo Client's persisted query
 * link alike.
 */
const repoRoot = resolve(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'apollo-pq-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('makes the same manifest as @apollo/generate-persisted-query-manifest', async () => {
  const output = join(work, 'apollo-manifest.json');
  const configFile = join(work, 'persisted-query-manifest.config.json');
  writeFileSync(configFile, JSON.stringify({ documents: [join(repoRoot, 'persisted-queries/operations/**/*.graphql')], output }));
  const result = spawnSync('npx', ['generate-persisted-query-manifest', '--config', configFile], { cwd: repoRoot, encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);

  const apollo = manifestSchema.parse(JSON.parse(readFileSync(output, 'utf8')));
  const ours = createManifest(
    (await extractOperations(['persisted-queries/operations/**/*.graphql'], repoRoot)).operations.map(({ id, name, type, body }) => ({
      id,
      name,
      type,
      body,
    })),
  );
  expect(apollo.operations.length).toBeGreaterThan(0);
  expect(ours).toEqual(apollo);
}, 60_000);
