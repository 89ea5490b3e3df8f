import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createManifest, manifestSchema, sha256Hex, type Manifest } from './manifest';

export function readManifest(path: string): Manifest {
  if (!existsSync(path)) return createManifest([]);
  return manifestSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
}

export function serializeManifest(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** Write-then-rename: a reader (a gateway watching the file) never sees half a manifest. */
export function writeFileAtomically(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = join(dirname(path), `.${process.pid}.${Date.now()}.tmp`);
  writeFileSync(temporary, text);
  renameSync(temporary, path);
}

/** What `pq publish` records next to the published manifest. */
export interface Publication {
  version: number;
  sha256: string;
  publishedAt: string;
  operations: number;
}

export const PUBLISHED_MANIFEST = 'manifest.json';
export const PUBLICATION_RECORD = 'publication.json';

export function readPublication(publishDir: string): Publication | undefined {
  const path = join(publishDir, PUBLICATION_RECORD);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Publication) : undefined;
}

/**
 * Publishes a manifest to the shared store with the next version number. The
 * manifest file is replaced atomically (gateways watch it and switch to it
 * whole); the numbered copy keeps the history for rollback.
 */
export function publishManifest(publishDir: string, manifest: Manifest, now = new Date()): Publication {
  const text = serializeManifest(manifest);
  const publication: Publication = {
    version: (readPublication(publishDir)?.version ?? 0) + 1,
    sha256: sha256Hex(text),
    publishedAt: now.toISOString(),
    operations: manifest.operations.length,
  };
  writeFileAtomically(join(publishDir, 'versions', `${String(publication.version).padStart(6, '0')}.json`), text);
  writeFileAtomically(join(publishDir, PUBLISHED_MANIFEST), text);
  writeFileAtomically(join(publishDir, PUBLICATION_RECORD), `${JSON.stringify(publication, null, 2)}\n`);
  return publication;
}
