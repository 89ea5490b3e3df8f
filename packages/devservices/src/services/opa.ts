import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findRepoRoot } from './jvmJars';
import { versions } from './versions';

const run = promisify(execFile);

/** The OPA version the dev services kit provisions (and that compiled policy/bundle). */
export const pinnedOpaVersion: string = versions.opa;

/** Where `go install` puts the binary (GOBIN); git-ignored with the rest of `.cache/`. */
export const goBinDir = (): string => join(findRepoRoot(), '.cache', 'go', 'bin');

let pending: Promise<string> | undefined;

/**
 * The path of an `opa` binary of the pinned version, built from source with
 * `go install github.com/open-policy-agent/opa@v<version>` on first use
 * (a few minutes: it compiles OPA) and reused after that.
 */
export function ensureOpa(): Promise<string> {
  pending ??= provision();
  // A failed build must not stick: the next caller tries again.
  pending.catch(() => (pending = undefined));
  return pending;
}

async function provision(): Promise<string> {
  const binary = join(goBinDir(), 'opa');
  if (existsSync(binary) && (await installedVersion(binary)) === versions.opa) return binary;
  process.stderr.write(`[services] building opa ${versions.opa} with go install (first run only, a few minutes)…\n`);
  const startedAt = Date.now();
  try {
    await run('go', ['install', `github.com/open-policy-agent/opa@v${versions.opa}`], {
      env: { ...process.env, GOBIN: goBinDir(), CGO_ENABLED: '0' },
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('go is not on PATH: install Go to build OPA (see INFRA.md)');
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`go install opa@v${versions.opa} failed:\n${stderr.slice(-4_000)}`);
  }
  const found = await installedVersion(binary);
  if (found !== versions.opa) throw new Error(`go install produced opa ${found ?? '(unknown)'}, expected ${versions.opa}`);
  process.stderr.write(`[services] opa ${versions.opa} ready in ${((Date.now() - startedAt) / 1_000).toFixed(1)} s: ${binary}\n`);
  return binary;
}

async function installedVersion(binary: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(binary, ['version']);
    return /^Version:\s*v?(\S+)/m.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}
