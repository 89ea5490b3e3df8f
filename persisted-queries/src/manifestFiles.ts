import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createManifest, manifestSchema, type Manifest } from './manifest';
import type { CostTable } from './operationCosts';

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
