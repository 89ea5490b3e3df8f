/** `SHA256SUMS` over every file of a folder, in the format `sha256sum -c` checks. */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export const CHECKSUMS_FILE = 'SHA256SUMS';

/** Paths of every file under `dir`, relative to it, sorted. */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((dirent) => dirent.isFile())
    .map((dirent) => relative(dir, join(dirent.parentPath, dirent.name)))
    .sort();
}

/** Writes `dir/SHA256SUMS` ("<hex>  <path>" per file, the file itself left out) and returns how many files it lists. */
export function writeChecksums(dir: string): number {
  const files = filesUnder(dir).filter((path) => path !== CHECKSUMS_FILE);
  const lines = files.map(
    (path) =>
      `${createHash('sha256')
        .update(readFileSync(join(dir, path)))
        .digest('hex')}  ${path}\n`,
  );
  writeFileSync(join(dir, CHECKSUMS_FILE), lines.join(''));
  return files.length;
}
