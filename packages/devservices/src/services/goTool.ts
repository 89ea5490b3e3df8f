import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findRepoRoot } from './jvmJars';

const run = promisify(execFile);

/** Where `go install` puts the binaries (GOBIN); git-ignored with the rest of `.cache/`. */
const goBinDir = (): string => join(findRepoRoot(), '.cache', 'go', 'bin');

export interface GoTool {
  /** The binary's name, as `go install` writes it. */
  name: string;
  /** The Go module it is built from, whose version `go version -m` reports. */
  module: string;
  /** The package `go install` builds (the module itself, or a command inside it). */
  installPath: string;
  version: string;
}

/**
 * A tool built from source with `go install <installPath>@v<version>` into
 * `.cache/go/bin` on first use (a few minutes: it compiles the tool) and
 * reused after that. Returns `ensure`, which resolves to the binary's path;
 * concurrent callers share one build, and a failed build is tried again by
 * the next caller. The version is read from the binary's build information
 * (`go version -m`): tools built with `go install` miss the link-time
 * version their release builds print.
 */
export function goTool(tool: GoTool): () => Promise<string> {
  let pending: Promise<string> | undefined;
  return () => {
    pending ??= provision(tool);
    pending.catch(() => (pending = undefined));
    return pending;
  };
}

async function provision(tool: GoTool): Promise<string> {
  const binary = join(goBinDir(), tool.name);
  if (existsSync(binary) && (await builtVersion(binary, tool.module)) === tool.version) return binary;
  process.stderr.write(`[services] building ${tool.name} ${tool.version} with go install (first run only, a few minutes)…\n`);
  const startedAt = Date.now();
  try {
    await run('go', ['install', `${tool.installPath}@v${tool.version}`], {
      env: { ...process.env, GOBIN: goBinDir(), CGO_ENABLED: '0' },
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(`go is not on PATH: install Go to build ${tool.name} (see README.md)`);
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`go install ${tool.installPath}@v${tool.version} failed:\n${stderr.slice(-4_000)}`);
  }
  const found = await builtVersion(binary, tool.module);
  if (found !== tool.version) throw new Error(`go install produced ${tool.name} ${found ?? '(unknown)'}, expected ${tool.version}`);
  process.stderr.write(`[services] ${tool.name} ${tool.version} ready in ${((Date.now() - startedAt) / 1_000).toFixed(1)} s: ${binary}\n`);
  return binary;
}

async function builtVersion(binary: string, module: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('go', ['version', '-m', binary]);
    return new RegExp(`^\\s*mod\\s+${module.replaceAll('.', '\\.')}\\s+v(\\S+)`, 'm').exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}
