import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { downloadDebianPackage } from './debianPackages';
import { findRepoRoot } from './jvmJars';
import { spawnManaged, waitUntilHealthy, type ManagedProcess } from './managedProcess';
import { versions } from './versions';

const run = promisify(execFile);
const host = '127.0.0.1';

export interface PrometheusBinaries {
  prometheus: string;
  promtool: string;
}

let pending: Promise<PrometheusBinaries> | undefined;

/**
 * Debian's `prometheus` package unpacked into `.cache/debian/` on first use
 * (one download of ~19 MB) and reused after that. It is not installed with
 * apt-get: the package's install script would start a system Prometheus on
 * :9090. Its two binaries are static Go programs (libc only), so they run
 * from the cache as they are. Concurrent callers share one download.
 */
export function ensurePrometheus(): Promise<PrometheusBinaries> {
  pending ??= provision();
  pending.catch(() => (pending = undefined));
  return pending;
}

/** The path of `promtool` (check and unit-test rule files, parse PromQL), provisioned with Prometheus. */
export async function promtoolPath(): Promise<string> {
  return (await ensurePrometheus()).promtool;
}

export interface PromtoolResult {
  exitCode: number;
  /** stdout and stderr together, for assertions and failure messages. */
  output: string;
}

/** Runs `promtool <args>` and returns its exit code and output; it does not throw on a non-zero exit. */
export async function runPromtool(args: readonly string[], options: { cwd?: string } = {}): Promise<PromtoolResult> {
  try {
    const { stdout, stderr } = await run(await promtoolPath(), [...args], { cwd: options.cwd, maxBuffer: 16 * 1024 * 1024 });
    return { exitCode: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { exitCode: failed.code, output: (failed.stdout ?? '') + (failed.stderr ?? '') };
  }
}

async function provision(): Promise<PrometheusBinaries> {
  const root = join(findRepoRoot(), '.cache', 'debian');
  const dir = join(root, `prometheus-${versions.prometheus}`);
  const binaries = { prometheus: join(dir, 'usr', 'bin', 'prometheus'), promtool: join(dir, 'usr', 'bin', 'promtool') };
  if (!existsSync(binaries.promtool) || !existsSync(binaries.prometheus)) {
    process.stderr.write(`[services] fetching Debian's prometheus ${versions.prometheus} into ${dir} (first run only)…\n`);
    mkdirSync(root, { recursive: true });
    // Unpacked next to the final folder and renamed at the end, so an interrupted
    // run or a second process doing the same never leaves half a package there.
    const staging = mkdtempSync(join(root, 'prometheus-staging-'));
    try {
      const deb = await downloadDebianPackage('prometheus', staging);
      await run('dpkg-deb', ['-x', deb, join(staging, 'root')]);
      if (!existsSync(dir)) renameSync(join(staging, 'root'), dir);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }
  const { stdout } = await run(binaries.promtool, ['--version']);
  // "promtool, version 2.42.0+ds (branch: debian/sid, …)"
  const installed = /version (\d+\.\d+)\./.exec(stdout)?.[1];
  if (installed !== versions.prometheus) {
    throw new Error(
      `${dir} holds promtool ${installed ?? '(unknown version)'} but the kit pins ${versions.prometheus} (versions.ts); ` +
        'update the pin after checking the rule tests against the new version',
    );
  }
  return binaries;
}

/** One process Prometheus scrapes at `http://<address>/metrics`. */
export interface ScrapeTarget {
  /** The `job` label; by convention the service's name. */
  job: string;
  /** `host:port` of its admin listener. */
  address: string;
  /** Target labels added to every series scraped from it (e.g. `region`). */
  labels?: Readonly<Record<string, string>>;
}

export interface PrometheusOptions {
  port: number;
  /** The TSDB; created if missing. Its parent also gets the generated prometheus.yml. */
  dataDir: string;
  logFile: string;
  scrapeTargets: readonly ScrapeTarget[];
  /** Rule files (recording and alerting), absolute or relative to the working directory. */
  ruleFiles: readonly string[];
  /**
   * Labels this Prometheus adds to whatever leaves it (alerts, federation, remote
   * write): one Prometheus per region carries `region` here (grafana/README.md).
   */
  externalLabels?: Readonly<Record<string, string>>;
  /** Default 15 s (Prometheus' own default); tests use 1 s so an alert is seen quickly. */
  scrapeIntervalSeconds?: number;
  /** Default: the scrape interval. */
  evaluationIntervalSeconds?: number;
  /** For `/-/ready` to answer 200; default 60_000. */
  deadlineMs?: number;
}

export interface RunningPrometheus {
  /** `http://127.0.0.1:<port>`: the UI and `/api/v1/*`. */
  readonly url: string;
  readonly port: number;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

/** Debian's Prometheus on 127.0.0.1:`port`, scraping `scrapeTargets` and evaluating `ruleFiles`. */
export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  const { prometheus } = await ensurePrometheus();
  const dataDir = resolve(options.dataDir);
  const logFile = resolve(options.logFile);
  mkdirSync(dataDir, { recursive: true });
  const scrapeInterval = options.scrapeIntervalSeconds ?? 15;
  const config = {
    global: {
      scrape_interval: `${scrapeInterval}s`,
      scrape_timeout: `${Math.min(scrapeInterval, 10)}s`,
      evaluation_interval: `${options.evaluationIntervalSeconds ?? scrapeInterval}s`,
      external_labels: { ...options.externalLabels },
    },
    rule_files: options.ruleFiles.map((file) => resolve(file)),
    // One job per service, so `job` names the process as `service` does.
    scrape_configs: [...groupBy(options.scrapeTargets, (target) => target.job)].map(([job, targets]) => ({
      job_name: job,
      static_configs: targets.map((target) => ({ targets: [target.address], labels: { ...target.labels } })),
    })),
  };
  // JSON is YAML, so the config needs no YAML writer.
  const configFile = join(resolve(dataDir, '..'), `prometheus-${options.port}.yml`);
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const managed = spawnManaged({
    name: 'prometheus',
    command: prometheus,
    args: [`--config.file=${configFile}`, `--storage.tsdb.path=${dataDir}`, `--web.listen-address=${host}:${options.port}`],
    logFile,
    cwd: dataDir,
  });
  const url = `http://${host}:${options.port}`;
  const running: RunningPrometheus = { url, port: options.port, process: managed, stop: () => managed.stop() };
  try {
    await waitUntilHealthy('prometheus', logFile, async () => (await fetch(`${url}/-/ready`)).ok, options.deadlineMs ?? 60_000, managed);
  } catch (error) {
    await running.stop();
    throw error;
  }
  return running;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}
