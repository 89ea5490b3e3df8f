import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildWorkbench } from './buildWorkbench';

const repoRoot = join(import.meta.dirname, '..', '..', '..');
const operationsDir = join(repoRoot, 'persisted-queries', 'operations');

let bundle: string;
let manifest: { operations: { id: string; name: string; type: string; body: string }[] };

beforeAll(async () => {
  // Cached: only the first run after a change to the app's inputs builds (about 15–25 s on a loaded machine).
  const { distDir } = await buildWorkbench();
  const assets = join(distDir, 'assets');
  const files = (await readdir(assets)).filter((file) => file.endsWith('.js'));
  bundle = (await Promise.all(files.map((file) => readFile(join(assets, file), 'utf8')))).join('\n');
  manifest = JSON.parse(await readFile(join(repoRoot, 'persisted-queries', 'manifest.json'), 'utf8')) as typeof manifest;
}, 180_000);

describe('the built Workbench', () => {
  it('carries no operation text, only the persisted ids', async () => {
    expect(bundle.length).toBeGreaterThan(10_000);
    for (const operation of manifest.operations) {
      expect(bundle, operation.name).not.toContain(`${operation.type} ${operation.name}`);
      expect(bundle, operation.name).not.toContain(JSON.stringify(operation.body).slice(1, -1));
    }
    // graphql-js's own introspection query is library text that tree-shaking keeps; no operation of ours is.
    const ours = [...bundle.matchAll(/\b(query|mutation|subscription)\s+([A-Z]\w*)\s*[({]/g)].map((match) => match[2]);
    expect(ours).toEqual(['IntrospectionQuery']);
    for (const name of ['TenantCoherence', 'CoherenceEvents', 'TroubleshootingQueue', 'CommandAudit', 'RetryCommand']) {
      const id = manifest.operations.find((operation) => operation.name === name)?.id;
      expect(id, name).toBeDefined();
      expect(bundle, name).toContain(id);
    }
  });

  it('sends only repository operations that pq gates', async () => {
    const source = await readFile(join(import.meta.dirname, '..', 'src', 'operations.ts'), 'utf8');
    const imported = [...source.matchAll(/from '([^']+\.graphql)'/g)].map((match) => match[1]!);
    expect(imported.length).toBeGreaterThan(0);
    const available = new Set(await readdir(operationsDir));
    for (const path of imported) {
      expect(path.startsWith('@coherence/persisted-queries/operations/'), path).toBe(true);
      expect(available.has(path.split('/').pop()!), path).toBe(true);
    }
  });

  it('keeps the token out of browser storage and cookies', () => {
    expect(bundle).not.toMatch(/localStorage|sessionStorage|document\.cookie/);
  });
});
