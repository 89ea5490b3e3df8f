import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parse } from 'graphql';
import { build, type Plugin } from 'vite';
import { keepingNodeEnv } from './config';

export const workbenchDir = resolve(import.meta.dirname, '..');
export const defaultDistDir = join(workbenchDir, 'dist');
const repoRoot = resolve(workbenchDir, '..', '..');
const operationsDir = join(repoRoot, 'persisted-queries', 'operations');
const manifestPath = join(repoRoot, 'persisted-queries', 'manifest.json');
const STAMP_FILE = '.build-stamp';

/** `.graphql` files as parsed documents without locations: the bundle carries no operation text (docs/adr/0030-workbench-app.md). */
function graphqlDocuments(): Plugin {
  return {
    name: 'workbench-graphql-documents',
    transform(source, id) {
      if (!id.endsWith('.graphql')) return null;
      return { code: `export default ${JSON.stringify(parse(source, { noLocation: true }))};`, map: null };
    },
  };
}

/** `virtual:persisted-ids`: the pq manifest's ids, names and types, without the bodies. */
function persistedIds(): Plugin {
  const virtualId = 'virtual:persisted-ids';
  return {
    name: 'workbench-persisted-ids',
    resolveId: (id) => (id === virtualId ? `\0${virtualId}` : null),
    async load(id) {
      if (id !== `\0${virtualId}`) return null;
      this.addWatchFile(manifestPath);
      const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { operations: { id: string; name: string; type: string }[] };
      const operations = manifest.operations.map(({ id: operationId, name, type }) => ({ id: operationId, name, type }));
      return `export default ${JSON.stringify({ operations })};`;
    },
  };
}

/** Every input of the bundle: the app's sources, the operations and the manifest, the build's own code and the lock. */
async function buildInputs(): Promise<string[]> {
  const inFolder = async (dir: string) =>
    (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  const files = [
    ...(await inFolder(join(workbenchDir, 'src'))),
    ...(await inFolder(operationsDir)),
    join(workbenchDir, 'index.html'),
    join(workbenchDir, 'package.json'),
    manifestPath,
    import.meta.filename,
    join(repoRoot, 'package-lock.json'),
  ];
  return files.sort();
}

async function stampOf(files: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const file of files)
    hash
      .update(relative(repoRoot, file))
      .update('\0')
      .update(await readFile(file))
      .update('\0');
  return hash.digest('hex');
}

export interface WorkbenchBuild {
  distDir: string;
  /** False when a build of the same inputs was already there. */
  built: boolean;
  durationMs: number;
}

/**
 * Builds the app into `outDir` with Vite (esbuild's automatic JSX runtime, no
 * React plugin), unless the build there is of the same inputs: the stack and
 * the browser tests call it, and only the first run after a change pays.
 */
export async function buildWorkbench(options: { outDir?: string; force?: boolean } = {}): Promise<WorkbenchBuild> {
  const started = performance.now();
  const distDir = options.outDir ?? defaultDistDir;
  const stamp = await stampOf(await buildInputs());
  const existing = await readFile(join(distDir, STAMP_FILE), 'utf8').catch(() => undefined);
  if (options.force !== true && existing === stamp) return { distDir, built: false, durationMs: performance.now() - started };
  await keepingNodeEnv(() =>
    build({
      root: workbenchDir,
      configFile: false,
      logLevel: 'warn',
      mode: 'production',
      esbuild: { jsx: 'automatic' },
      plugins: [graphqlDocuments(), persistedIds()],
      // One chunk of about 600 kB (React, Apollo, graphql-js): served once, cached immutable by its hashed name.
      build: {
        outDir: distDir,
        emptyOutDir: true,
        target: 'es2022',
        sourcemap: false,
        reportCompressedSize: false,
        chunkSizeWarningLimit: 1_000,
      },
    }),
  );
  await writeFile(join(distDir, STAMP_FILE), stamp);
  return { distDir, built: true, durationMs: performance.now() - started };
}
