import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findRepoRoot } from './jvmJars';

const run = promisify(execFile);

/** Where `go install` puts the binaries (GOBIN); git-ignored with the rest of `.cache/`. */
const goBinDir = (): string => join(findRepoRoot(), '.cache', 'go', 'bin');
/** Where a tool that `go install` refuses gets a Go module of its own to be built in. */
const toolsModuleDir = (name: string): string => join(findRepoRoot(), '.cache', 'go', 'tools', name);

export interface GoTool {
  /** The binary's name, as `go install` writes it. */
  name: string;
  /** The Go module it is built from, whose version `go version -m` reports. */
  module: string;
  /** The package `go install` builds (the module itself, or a command inside it). */
  installPath: string;
  version: string;
  /**
   * Build it in a Go module of its own under `.cache/go/tools/<name>`
   * (`go get -tool`, then `go build`) instead of `go install`, which
   * refuses a module whose go.mod has `replace` directives (Jaeger's).
   */
  inToolsModule?: boolean;
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
  process.stderr.write(`[services] building ${tool.name} ${tool.version} with go (first run only, a few minutes)…\n`);
  const startedAt = Date.now();
  const env = { ...process.env, GOBIN: goBinDir(), CGO_ENABLED: '0' };
  const go = async (args: string[], cwd?: string) => {
    try {
      await run('go', args, { env, cwd, maxBuffer: 16 * 1024 * 1024 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        throw new Error(`go is not on PATH: install Go to build ${tool.name} (see README.md)`);
      const stderr = (error as { stderr?: string }).stderr ?? '';
      throw new Error(`go ${args.join(' ')} failed:\n${stderr.slice(-4_000)}`);
    }
  };
  const pinned = `${tool.installPath}@v${tool.version}`;
  if (tool.inToolsModule) {
    const dir = toolsModuleDir(tool.name);
    mkdirSync(dir, { recursive: true });
    if (!existsSync(join(dir, 'go.mod'))) await go(['mod', 'init', `coherence-tools/${tool.name}`], dir);
    await go(['get', '-tool', pinned], dir);
    await go(['build', '-o', binary, tool.installPath], dir);
  } else {
    await go(['install', pinned]);
  }
  const found = await builtVersion(binary, tool.module);
  if (found !== tool.version) throw new Error(`the build produced ${tool.name} ${found ?? '(unknown)'}, expected ${tool.version}`);
  process.stderr.write(`[services] ${tool.name} ${tool.version} ready in ${((Date.now() - startedAt) / 1_000).toFixed(1)} s: ${binary}\n`);
  return binary;
}

async function builtVersion(binary: string, module: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('go', ['version', '-m', binary]);
    // `mod` for a tool built as the main module, `dep` for one built in a tools module.
    return new RegExp(`^\\s*(?:mod|dep)\\s+${module.replaceAll('.', '\\.')}\\s+v(\\S+)`, 'm').exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}
