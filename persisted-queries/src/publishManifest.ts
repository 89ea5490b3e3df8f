import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { sha256Hex, type Manifest } from './manifest';
import {
  PUBLICATION_RECORD,
  PUBLISHED_MANIFEST,
  readPublication,
  serializeJson,
  writeFileAtomically,
  type Publication,
} from './manifestFiles';
import { COSTS_FILE, type CostTable } from './operationCosts';
import { signManifest } from './signedManifest';

/**
 * Publishes a manifest and its cost table to the shared store with the next
 * version number, signed with `signingKey`. Each file is replaced
 * atomically; `.signatures.json` (over the manifest, the cost table and the
 * publication record, whose version gateways refuse to go back from) is
 * written last, and gateways reload when it changes. The numbered copies
 * keep the history.
 */
export async function publishManifest(
  publishDir: string,
  manifest: Manifest,
  costs: CostTable,
  signingKey: KeyObject,
  now = new Date(),
): Promise<Publication> {
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
  await signManifest(join(publishDir, PUBLISHED_MANIFEST), signingKey);
  return publication;
}
