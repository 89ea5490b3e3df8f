import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { artifactKeyId, devArtifactPublicKeyPath, readArtifactPublicKey } from '@coherence/auth';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runPq } from './cli';
import { readSignedManifest } from './signedManifest';

/**
 * The `pq` commands against a throw-away project: the fixture frontend
 * (`src/__fixtures__/app`), the repo's real supergraph, and a manifest that
 * starts empty.
 */
const repoRoot = resolve(import.meta.dirname, '../..');
let project: string;
let stdout: string[];
let stderr: string[];

function writeConfig(sources: string[]): void {
  writeFileSync(
    join(project, 'pq.config.json'),
    JSON.stringify({ sources, manifest: 'manifest.json', supergraph: 'supergraph.graphql', publishDir: 'published' }),
  );
}

/** The cost table beside the fixture manifest. */
function writeCosts(costs: unknown): void {
  writeFileSync(join(project, 'costs.json'), JSON.stringify(costs));
}

async function pq(...args: string[]): Promise<number> {
  stdout = [];
  stderr = [];
  return runPq(args, project);
}

beforeEach(() => {
  project = mkdtempSync(join(tmpdir(), 'pq-'));
  cpSync(join(import.meta.dirname, '__fixtures__/app'), join(project, 'app'), { recursive: true });
  cpSync(join(repoRoot, 'gateway/supergraph.graphql'), join(project, 'supergraph.graphql'));
  writeConfig(['app/src/dashboard.ts']);
  writeCosts({ Dashboard: { base: 1 } });
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => Boolean(stdout.push(String(chunk))));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => Boolean(stderr.push(String(chunk))));
});

afterEach(() => {
  vi.restoreAllMocks();
  rmSync(project, { recursive: true, force: true });
});

describe('pq as the CI gate', () => {
  it('fails with file:line for an operation that is not registered, and passes once it is', async () => {
    writeConfig(['app/src/**/*.ts']);
    expect(await pq('add', 'app/src/dashboard.ts')).toBe(0);
    expect(await pq('check')).toBe(1);
    expect(stderr.join('')).toContain('app/src/unregistered.ts:5: SourceBreakdown is not in the manifest');

    writeCosts({ Dashboard: { base: 1 }, SourceBreakdown: { base: 1 } });
    expect(await pq('add', 'app/src/unregistered.ts')).toBe(0);
    expect(await pq('check')).toBe(0);
    expect(stdout.join('')).toMatch(
      /^pq check: 2 source operations persisted; 2 manifest entries valid against the supergraph, each with a cost; signed by key [0-9a-f]{16}/,
    );
    expect(stderr).toEqual([]);
  });

  it('fails on a manifest or cost table changed since it was signed, or signed by another key; update signs again', async () => {
    expect(await pq('update')).toBe(0);
    writeCosts({ Dashboard: { base: 2 } });
    expect(await pq('check', '--json')).toBe(1);
    expect(stderr.join('')).toMatch(/^manifest\.json: signature HASH_MISMATCH: costs\.json hashes to .* \(re-sign: npx pq update\)/);
    expect(JSON.parse(stdout.join(''))).toMatchObject({ ok: false, signature: expect.stringMatching(/^HASH_MISMATCH/) });
    expect(await pq('update')).toBe(0);
    expect(await pq('check')).toBe(0);

    const otherKey = join(project, 'other.pem');
    writeFileSync(otherKey, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    expect(await pq('check', '--signing-key', otherKey)).toBe(1);
    expect(stderr.join('')).toContain('signature SIGNATURE_INVALID: the signature does not verify under the pinned key');
    rmSync(join(project, '.signatures.json'));
    expect(await pq('check')).toBe(1);
    expect(stderr.join('')).toContain('signature UNSIGNED');
  });

  it.each([
    ['an operation without a cost entry', {}, 'costs.json: Dashboard has no entry in costs.json'],
    [
      'an entry for an operation the manifest lacks',
      { Dashboard: { base: 1 }, SourceBreakdown: { base: 1 } },
      'costs.json: SourceBreakdown has an entry in costs.json but no operation in the manifest',
    ],
    [
      'a scaling variable the operation does not declare',
      { Dashboard: { base: 1, scale: { variable: 'first', per: 50, max: 200 } } },
      'costs.json: Dashboard scale variable $first is not declared by',
    ],
    [
      'a scaling variable that is not an Int',
      { Dashboard: { base: 1, scale: { variable: 'tenantId', per: 50, max: 200 } } },
      'costs.json: Dashboard scale variable $tenantId of',
    ],
    ['a malformed entry', { Dashboard: { base: 0 } }, 'costs.json: malformed cost table: Dashboard.base:'],
  ])('fails on %s, and refuses to publish', async (_name, costs, message) => {
    expect(await pq('update')).toBe(0);
    writeCosts(costs);
    expect(await pq('check', '--json')).toBe(1);
    expect(stderr.join('')).toContain(message);
    expect(JSON.parse(stdout.join(''))).toMatchObject({ ok: false, costs: [expect.anything()] });
    expect(await pq('publish')).toBe(1);
    expect(stderr.join('')).toContain('refusing to publish');
  });

  it('fails when a schema change would break a persisted operation', async () => {
    expect(await pq('update')).toBe(0);
    const supergraph = join(project, 'supergraph.graphql');
    // The field the fixture's fragment selects disappears from CoherenceScore (the only status owned by a join__field).
    writeFileSync(supergraph, readFileSync(supergraph, 'utf8').replace(/^\s*status: CoherenceStatus! @join__field.*$/m, ''));
    expect(await pq('check')).toBe(1);
    expect(stderr.join('')).toMatch(/Dashboard [0-9a-f]{12} would break against the supergraph: Cannot query field "status"/);
  });

  it('refuses to add an operation that does not validate, naming where it is', async () => {
    writeFileSync(join(project, 'app/src/bad.graphql'), 'query Bad {\n  tenantCoherence(tenantId: "x") { colour }\n}\n');
    expect(await pq('add', 'app/src/bad.graphql')).toBe(1);
    expect(stderr.join('')).toContain('app/src/bad.graphql:1: Bad does not validate against the supergraph');
    expect(readManifestOperations()).toEqual([]);
  });
});

describe('pq update, prune, list, show', () => {
  it('keeps the old id of a changed operation until prune, and prints the diff', async () => {
    await pq('update');
    const [first] = readManifestOperations();
    const file = join(project, 'app/src/dashboard.ts');
    writeFileSync(file, readFileSync(file, 'utf8').replace('tenantId\n', 'tenantId\n      window\n'));
    expect(await pq('update')).toBe(0);
    expect(stdout.join('')).toContain(`~ Dashboard ${first!.id.slice(0, 12)} →`);
    expect(readManifestOperations().map((op) => op.id)).toHaveLength(2);

    expect(await pq('prune', '--dry-run')).toBe(0);
    expect(readManifestOperations()).toHaveLength(2);
    expect(await pq('prune', '--json')).toBe(0);
    expect(JSON.parse(stdout.join(''))).toMatchObject({ dryRun: false, removed: [{ id: first!.id }] });
    expect(readManifestOperations()).toHaveLength(1);
  });

  it('lists and shows operations, with --json for machines', async () => {
    await pq('update');
    expect(await pq('list', '--json')).toBe(0);
    const [entry] = JSON.parse(stdout.join('')) as { id: string; name: string }[];
    expect(entry).toMatchObject({ name: 'Dashboard', type: 'query' });
    expect(await pq('show', 'Dashboard')).toBe(0);
    expect(stdout.join('')).toContain('fragment ScoreFields on CoherenceScore');
    expect(await pq('show', 'Nope')).toBe(1);
  });

  it('publishes with increasing versions and a dry run that writes nothing', async () => {
    await pq('update');
    expect(await pq('publish', '--dry-run')).toBe(0);
    expect(stdout.join('')).toContain('would publish: 1 added, 0 removed');
    expect(await pq('publish', '--json')).toBe(0);
    expect(JSON.parse(stdout.join(''))).toMatchObject({ publication: { version: 1, operations: 1 } });
    expect(await pq('publish', '--json')).toBe(0);
    expect(JSON.parse(stdout.join(''))).toMatchObject({ added: [], publication: { version: 2 } });
    expect(readFileSync(join(project, 'published/manifest.json'), 'utf8')).toBe(readFileSync(join(project, 'manifest.json'), 'utf8'));
    // Signed with the publication record, whose version a gateway will not go back from.
    const published = await readSignedManifest(join(project, 'published/manifest.json'), readArtifactPublicKey(devArtifactPublicKeyPath));
    expect(published).toMatchObject({ version: 2, keyId: artifactKeyId(readArtifactPublicKey(devArtifactPublicKeyPath)) });
    // The cost table goes with it, and into the history beside each version.
    expect(JSON.parse(readFileSync(join(project, 'published/costs.json'), 'utf8'))).toEqual({ Dashboard: { base: 1 } });
    expect(JSON.parse(readFileSync(join(project, 'published/versions/000002.costs.json'), 'utf8'))).toEqual({ Dashboard: { base: 1 } });
  });

  it('answers usage errors with exit 2 and the help', async () => {
    expect(await pq('frobnicate')).toBe(2);
    expect(stderr.join('')).toContain('unknown command frobnicate');
    expect(await pq('--help')).toBe(0);
    expect(stdout.join('')).toContain('exit codes: 0 ok, 1 check failed');
  });
});

it('runs as `npx pq` from the repository', () => {
  const result = spawnSync('npx', ['pq', '--help'], { cwd: repoRoot, encoding: 'utf8' });
  expect(result.status).toBe(0);
  expect(result.stdout).toContain('usage: npx pq <command>');
}, 60_000);

function readManifestOperations(): { id: string; name: string }[] {
  try {
    return (JSON.parse(readFileSync(join(project, 'manifest.json'), 'utf8')) as { operations: { id: string; name: string }[] }).operations;
  } catch {
    return [];
  }
}
