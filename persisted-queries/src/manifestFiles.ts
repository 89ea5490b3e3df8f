import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createManifest, manifestSchema, sha256Hex, type Manifest } from './manifest';
import { COSTS_FILE, type CostTable } from './operationCosts';

export function readManifest(path: string): Manifest {
  if (!existsSync(path)) return createManifest([]);
  return manifestSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
}

export function serializeJson(value: Manifest | CostTable): string {
  return `${JSON.stringify(value, null, 2)}\n`;
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
 * Publishes a manifest and its cost table to the shared store with the next
 * version number. Each file is replaced atomically, the cost table first and
 * the manifest last: gateways watch the manifest and then read both. The
 * numbered copies keep the history for rollback.
 */
export function publishManifest(publishDir: string, manifest: Manifest, costs: CostTable, now = new Date()): Publication {
  const text = serializeJson(manifest);
  const publication: Publication = {
    version: (readPublication(publishDir)?.version ?? 0) + 1,
    sha256: sha256Hex(text),
    publishedAt: now.toISOString(),
    operations: manifest.operations.length,
  };
  const numbered = join(publishDir, 'versions', String(publication.version).padStart(6, '0'));
  writeFileAtomically(`${numbered}.json`, text);
  writeFileAtomically(`${numbered}.costs.json`, serializeJson(costs));
  writeFileAtomically(join(publishDir, COSTS_FILE), serializeJson(costs));
  writeFileAtomically(join(publishDir, PUBLISHED_MANIFEST), text);
  writeFileAtomically(join(publishDir, PUBLICATION_RECORD), `${JSON.stringify(publication, null, 2)}\n`);
  return publication;
}
