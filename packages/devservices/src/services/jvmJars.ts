import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { versions } from './versions';

/** The JVM servers whose jars come from Maven Central. */
export type JvmComponent = 'neo4j' | 'kafka';

const servicesDir = dirname(fileURLToPath(import.meta.url));

/** Folder with the poms and the Neo4j launcher source. */
export const jvmSourceDir = join(servicesDir, 'jvm');

const markerFileName = '.complete.json';

interface Marker {
  component: JvmComponent;
  version: string;
  pomSha256: string;
}

/**
 * The monorepo root: the nearest folder above `startDir` holding `turbo.json`
 * or a package.json with `workspaces`. Caches and data dirs hang off it so
 * every package shares one `.cache/`.
 */
export function findRepoRoot(startDir: string = servicesDir): string {
  let dir = startDir;
  for (;;) {
    if (existsSync(join(dir, 'turbo.json'))) return dir;
    const packageJson = join(dir, 'package.json');
    if (existsSync(packageJson)) {
      try {
        const parsed: unknown = JSON.parse(readFileSync(packageJson, 'utf8'));
        if (typeof parsed === 'object' && parsed !== null && 'workspaces' in parsed) return dir;
      } catch {
        // A broken package.json further down is not the root; keep walking.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no monorepo root (turbo.json or package.json with workspaces) above ${startDir}`);
    dir = parent;
  }
}

/**
 * A JDK tool (`java`, `javac`) to run servers with: $JAVA_HOME's if set (it
 * must be Java 17 or 21 for Neo4j 5.26), else the one on PATH.
 */
export function jdkCommand(tool: 'java' | 'javac' = 'java'): string {
  const javaHome = process.env['JAVA_HOME'];
  return javaHome ? join(javaHome, 'bin', tool) : tool;
}

/**
 * JIT flags for a server JVM. By default only the C1 compiler runs: measured
 * here, that halves the CPU a Neo4j or Kafka start-up takes (Neo4j ~12 s ->
 * ~6.5 s, Kafka ~5 s -> ~2.7 s), which matters on the 2-core machines where
 * both JVMs and Postgres start together. Peak throughput is lower, so a load
 * test should ask for the full tiered JIT.
 */
export function jitArgs(fullJit = false): string[] {
  return fullJit ? [] : ['-XX:TieredStopAtLevel=1'];
}

/** The `-cp` value for a jar dir; the java launcher expands `dir/*` itself, no shell needed. */
export function jarClassPath(jarDir: string): string {
  return join(jarDir, '*');
}

// One fetch per component per process, even if several tests ask at once.
const inFlight = new Map<JvmComponent, Promise<string>>();

/**
 * Returns the folder holding every jar `component` needs, fetching them with
 * Maven on the first call on this machine. Maven uses the usual ~/.m2, so a
 * version bump only downloads what changed.
 */
export function ensureJvmJars(component: JvmComponent): Promise<string> {
  let pending = inFlight.get(component);
  if (!pending) {
    pending = fetchIfMissing(component);
    inFlight.set(component, pending);
    // A failed fetch must not stick: the next caller tries again.
    pending.catch(() => inFlight.delete(component));
  }
  return pending;
}

async function fetchIfMissing(component: JvmComponent): Promise<string> {
  const version = versions[component];
  const pomFile = join(jvmSourceDir, component, 'pom.xml');
  const expected: Marker = { component, version, pomSha256: sha256(await readFile(pomFile)) };
  const cacheDir = join(findRepoRoot(), '.cache', 'jvm');
  const jarDir = join(cacheDir, `${component}-${version}`);
  if (await hasMarker(jarDir, expected)) return jarDir;

  process.stderr.write(`[services] fetching ${component} ${version} jars with mvn (first run only)…\n`);
  const startedAt = Date.now();
  // Download next to the final folder and rename at the end, so that an
  // interrupted fetch or a second process fetching at the same time never
  // leaves a half-filled jar dir that looks usable.
  const partialDir = `${jarDir}.partial-${process.pid}-${Date.now()}`;
  await mkdir(cacheDir, { recursive: true });
  await removeAbandonedPartials(cacheDir);
  try {
    await runMaven(pomFile, [`-D${component}.version=${version}`, '-DincludeScope=runtime', `-DoutputDirectory=${partialDir}`]);
    const jars = (await readdir(partialDir)).filter((name) => name.endsWith('.jar'));
    if (jars.length === 0) throw new Error(`mvn finished but put no jars into ${partialDir}`);
    await writeFile(join(partialDir, markerFileName), `${JSON.stringify(expected, null, 2)}\n`);
    // Another process fetched the same jars meanwhile: keep its folder, which may already be in use.
    if (await hasMarker(jarDir, expected)) return jarDir;
    // An old or half-finished folder (no or stale marker) is replaced whole.
    await rm(jarDir, { recursive: true, force: true });
    try {
      await rename(partialDir, jarDir);
    } catch (error) {
      // Another process finished first; its folder is just as good.
      if (!(await hasMarker(jarDir, expected))) throw error;
    }
  } finally {
    await rm(partialDir, { recursive: true, force: true });
  }
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  process.stderr.write(`[services] ${component} ${version} jars ready in ${seconds} s: ${jarDir}\n`);
  return jarDir;
}

/** Drops `*.partial-<pid>-…` folders left by a fetch whose process was killed (its `finally` never ran). */
async function removeAbandonedPartials(cacheDir: string): Promise<void> {
  for (const name of await readdir(cacheDir)) {
    const pid = Number(/\.partial-(\d+)-\d+$/.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || isAlive(pid)) continue;
    await rm(join(cacheDir, name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function hasMarker(jarDir: string, expected: Marker): Promise<boolean> {
  try {
    const found = JSON.parse(await readFile(join(jarDir, markerFileName), 'utf8')) as Partial<Marker>;
    // A changed pom (another binding jar, say) must refetch even at the same version.
    return found.component === expected.component && found.version === expected.version && found.pomSha256 === expected.pomSha256;
  } catch {
    return false;
  }
}

function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

function runMaven(pomFile: string, properties: readonly string[]): Promise<void> {
  // -B: no colour codes or progress bars; output is only shown on failure.
  const args = ['-q', '-B', '-f', pomFile, 'dependency:copy-dependencies', ...properties];
  return new Promise((resolve, reject) => {
    const child = spawn('mvn', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const output: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ENOENT' ? new Error('mvn is not on PATH: install Maven (Debian package `maven`) to fetch the JVM servers') : error,
      );
    });
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`mvn ${args.join(' ')} exited with ${code}:\n${Buffer.concat(output).toString('utf8').slice(-4_000)}`));
    });
  });
}
