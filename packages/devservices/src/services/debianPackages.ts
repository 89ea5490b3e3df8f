import { spawn } from 'node:child_process';
import { accessSync, constants, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { versions } from './versions';

/** A program the kit needs, and the Debian package that ships it. */
export interface DebianPackage {
  /** Absolute path, or a bare name looked up on PATH (and the sbin dirs). */
  binary: string;
  pkg: string;
}

// Vitest runs test files in parallel worker processes, so two of them may
// provision at once. Two concurrent `apt-get install`s were seen to break each
// other (one deleted the .deb the other was about to unpack), and
// `apt-get update` does not wait for the lists lock at all; hence one mutex
// around the whole update + install, plus retries for apt users outside it.
const aptTimeoutMs = 300_000;
// Its name predates packages/devservices; kept so that checkouts from before
// the move and after it, on one machine, still take the same lock.
const aptMutexFile = join(tmpdir(), 'testkit-apt.lock');

let aptUpdated = false;

/**
 * Installs the packages whose binary is missing. `apt-get update` runs at most
 * once per process, and only when something has to be installed, so a machine
 * that has everything starts without touching the network.
 */
export async function ensureDebianPackages(packages: readonly DebianPackage[]): Promise<void> {
  const missingNow = (): DebianPackage[] => packages.filter((p) => !binaryExists(p.binary));
  const missing = missingNow();
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `Missing programs ${missing.map((p) => p.binary).join(', ')}; installing them needs root. ` +
        `Run: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${packageNames(missing).join(' ')}`,
    );
  }
  await withAptMutex(async () => {
    // Another process may have installed them while we waited for the mutex.
    const names = packageNames(missingNow());
    if (names.length === 0) return;
    const startedAt = Date.now();
    process.stderr.write(`[devservices] installing Debian packages: ${names.join(' ')} …\n`);
    const lockOption = ['-o', `DPkg::Lock::Timeout=${aptTimeoutMs / 1000}`];
    if (!aptUpdated) {
      await runApt(['-q', ...lockOption, 'update']);
      aptUpdated = true;
    }
    await runApt(['-q', '-y', ...lockOption, 'install', '--no-install-recommends', ...names]);
    const stillMissing = missingNow();
    if (stillMissing.length > 0) {
      throw new Error(
        `apt-get installed ${names.join(' ')} but ${stillMissing.map((p) => p.binary).join(', ')} still does not exist; ` +
          'the binary-to-package map in the dev services kit is wrong',
      );
    }
    process.stderr.write(`[devservices] installed ${names.join(' ')} in ${Date.now() - startedAt} ms\n`);
  });
}

/**
 * Downloads Debian's `pkg` (the archive's candidate version) into `destDir`
 * and returns the .deb's path, without installing it: for a server whose
 * package would start a system service on install (prometheus does), the
 * kit unpacks the .deb into `.cache` and runs the binary from there.
 * `apt-get update` runs only if the package lists do not know `pkg` yet.
 */
export async function downloadDebianPackage(pkg: string, destDir: string): Promise<string> {
  let debFile: string | undefined;
  await withAptMutex(async () => {
    const download = () => runApt(['-q', 'download', pkg], destDir);
    try {
      await download();
    } catch (error) {
      if (aptUpdated) throw error;
      await runApt(['-q', '-o', `DPkg::Lock::Timeout=${aptTimeoutMs / 1000}`, 'update']);
      aptUpdated = true;
      await download();
    }
    debFile = readdirSync(destDir).find((name) => name.startsWith(`${pkg}_`) && name.endsWith('.deb'));
  });
  if (debFile === undefined) throw new Error(`apt-get download ${pkg} wrote no ${pkg}_*.deb into ${destDir}`);
  return join(destDir, debFile);
}

/** `/usr/lib/postgresql/<major>/bin` of Debian's packages; throws if that major is not installed. */
export function postgresBinDir(major: number = versions.postgresMajor): string {
  const dir = postgresBinDirPath(major);
  if (!binaryExists(join(dir, 'postgres'))) {
    throw new Error(
      `PostgreSQL ${major} is not installed (${dir}/postgres missing). ` +
        `startPostgres() installs it, or run: apt-get install -y --no-install-recommends postgresql-${major}`,
    );
  }
  return dir;
}

/** The path whether or not it exists, for deciding what to install. */
export function postgresBinDirPath(major: number = versions.postgresMajor): string {
  return `/usr/lib/postgresql/${major}/bin`;
}

function packageNames(packages: readonly DebianPackage[]): string[] {
  return [...new Set(packages.map((p) => p.pkg))];
}

function binaryExists(binary: string): boolean {
  const candidates = isAbsolute(binary)
    ? [binary]
    : // root's PATH in a CI job may lack the sbin dirs, so look there as well.
      [...(process.env['PATH'] ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin']
        .filter((dir) => dir !== '')
        .map((dir) => join(dir, binary));
  return candidates.some((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Holds a kernel flock (util-linux `flock`) while `fn` runs. The lock lives in
 * a child that blocks reading its stdin, so it is released when we close that
 * pipe, and also when this process dies without cleaning up.
 */
async function withAptMutex(fn: () => Promise<void>): Promise<void> {
  const holder = spawn('flock', ['-w', String(aptTimeoutMs / 1000), aptMutexFile, '-c', 'echo locked && exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const released = new Promise<void>((resolve) => holder.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    holder.stdout.once('data', () => resolve());
    holder.once('error', reject);
    holder.once('exit', (code) => reject(new Error(`could not take ${aptMutexFile} within ${aptTimeoutMs} ms (flock exit ${code})`)));
  });
  try {
    await fn();
  } finally {
    holder.stdin.end();
    await released;
  }
}

async function runApt(args: readonly string[], cwd?: string): Promise<void> {
  const giveUpAt = Date.now() + aptTimeoutMs;
  for (;;) {
    const { exitCode, output } = await runAptOnce(args, cwd);
    if (exitCode === 0) return;
    // Lock contention with an apt run outside our mutex is worth waiting for; anything else is not.
    if (!/Could not get lock|Unable to lock|cannot access archive/.test(output) || Date.now() > giveUpAt) {
      throw new Error(`apt-get ${args.join(' ')} failed (exit ${exitCode}):\n${output.split('\n').slice(-30).join('\n')}`);
    }
    await sleep(1_000);
  }
}

async function runAptOnce(args: readonly string[], cwd?: string): Promise<{ exitCode: number | null; output: string }> {
  // Without this, debconf may prompt and the install would hang with no stdin.
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const child = spawn('apt-get', args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  return { exitCode, output };
}
