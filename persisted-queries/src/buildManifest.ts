import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createManifest, toPersistedOperation, type Manifest } from './manifest';

/** Reads every `*.graphql` in `operationsDir` into a manifest. */
export async function buildManifest(operationsDir: string): Promise<Manifest> {
  const files = (await readdir(operationsDir)).filter((f) => f.endsWith('.graphql')).sort();
  const operations = await Promise.all(
    files.map(async (file) => toPersistedOperation(await readFile(join(operationsDir, file), 'utf8'), file)),
  );
  return createManifest(operations);
}
