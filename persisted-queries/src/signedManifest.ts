import { readArtifactSignatures, SIGNATURES_FILE, signArtifact, verifyArtifactSignature } from '@coherence/auth';
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { sha256Hex } from './manifest';
import { PUBLICATION_RECORD, writeFileAtomically } from './manifestFiles';
import { COSTS_FILE } from './operationCosts';

/** The `scope` a manifest's signature is made for: a signed policy bundle does not pass for a manifest. */
export const MANIFEST_SIGNATURE_SCOPE = 'persisted-operations';

const publicationVersionSchema = z.object({ version: z.int().positive() });

async function readIfPresent(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * The files a manifest's signature covers, by name in its folder: the
 * manifest, its cost table, and the publication record when there is one
 * (`pq publish` writes it; it carries the version a rollback is judged by).
 */
async function readManifestFiles(manifestPath: string): Promise<Map<string, Uint8Array>> {
  const dir = dirname(manifestPath);
  const [manifest, costs, publication] = await Promise.all([
    readFile(manifestPath),
    readFile(join(dir, COSTS_FILE)),
    readIfPresent(join(dir, PUBLICATION_RECORD)),
  ]);
  const files = new Map<string, Uint8Array>([
    [basename(manifestPath), manifest],
    [COSTS_FILE, costs],
  ]);
  if (publication) files.set(PUBLICATION_RECORD, publication);
  return files;
}

/** Signs the manifest's files (OPA's bundle signing format) into `.signatures.json` beside them; written last, so a watcher reloads once. */
export async function signManifest(manifestPath: string, signingKey: KeyObject): Promise<void> {
  const signatures = await signArtifact(await readManifestFiles(manifestPath), signingKey, MANIFEST_SIGNATURE_SCOPE);
  writeFileAtomically(join(dirname(manifestPath), SIGNATURES_FILE), signatures);
}

export interface SignedManifest {
  /** The manifest and cost table as parsed from the verified bytes. */
  manifest: unknown;
  costs: unknown;
  /** The publication's version; 0 for a manifest never published (the repository's own). */
  version: number;
  /** sha256 of the manifest file. */
  sha256: string;
  keyId: string;
}

/**
 * Reads a manifest with its cost table and verifies their signature under
 * `publicKey`; throws an ArtifactSignatureError when it does not verify.
 * What it returns was parsed from the very bytes verified.
 */
export async function readSignedManifest(manifestPath: string, publicKey: KeyObject): Promise<SignedManifest> {
  const [files, signatures] = await Promise.all([readManifestFiles(manifestPath), readArtifactSignatures(dirname(manifestPath))]);
  const { keyId } = await verifyArtifactSignature({
    signatures,
    files,
    publicKey,
    scope: MANIFEST_SIGNATURE_SCOPE,
  });
  const text = (name: string): string => Buffer.from(files.get(name)!).toString('utf8');
  const json = (name: string): unknown => JSON.parse(text(name));
  return {
    manifest: json(basename(manifestPath)),
    costs: json(COSTS_FILE),
    version: files.has(PUBLICATION_RECORD) ? publicationVersionSchema.parse(json(PUBLICATION_RECORD)).version : 0,
    sha256: sha256Hex(text(basename(manifestPath))),
    keyId,
  };
}
