import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { goBinDir } from './opa';
import { versions } from './versions';

const run = promisify(execFile);
const helmModule = 'helm.sh/helm/v3';

let pending: Promise<string> | undefined;

/**
 * The path of a `helm` binary of the pinned version, built from source with
 * `go install helm.sh/helm/v3/cmd/helm@v<version>` into `.cache/go/bin` on
 * first use (a few minutes) and reused after that, as OPA is.
 */
export function ensureHelm(): Promise<string> {
  pending ??= provision();
  // A failed build must not stick: the next caller tries again.
  pending.catch(() => (pending = undefined));
  return pending;
}

async function provision(): Promise<string> {
  const binary = join(goBinDir(), 'helm');
  if (existsSync(binary) && (await builtVersion(binary)) === versions.helm) return binary;
  process.stderr.write(`[services] building helm ${versions.helm} with go install (first run only, a few minutes)…\n`);
  const startedAt = Date.now();
  try {
    await run('go', ['install', `${helmModule}/cmd/helm@v${versions.helm}`], {
      env: { ...process.env, GOBIN: goBinDir(), CGO_ENABLED: '0' },
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('go is not on PATH: install Go to build Helm (see README.md)');
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`go install helm@v${versions.helm} failed:\n${stderr.slice(-4_000)}`);
  }
  const found = await builtVersion(binary);
  if (found !== versions.helm) throw new Error(`go install produced helm ${found ?? '(unknown)'}, expected ${versions.helm}`);
  process.stderr.write(`[services] helm ${versions.helm} ready in ${((Date.now() - startedAt) / 1_000).toFixed(1)} s: ${binary}\n`);
  return binary;
}

/**
 * The module version the binary was built from. `helm version` cannot tell
 * it: `go install` does not set the link-time version Helm's release builds
 * get, so it prints only `v3.22`.
 */
async function builtVersion(binary: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('go', ['version', '-m', binary]);
    return new RegExp(`^\\s*mod\\s+${helmModule.replaceAll('.', '\\.')}\\s+v(\\S+)`, 'm').exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}
