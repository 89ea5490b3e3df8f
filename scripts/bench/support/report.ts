/**
 * What every benchmark report carries besides its numbers: the machine and
 * how busy it was (other work on a shared machine skews every number), and
 * the file under `reports/` it is written to.
 */
import { ensureProductionNode } from '@coherence/devservices/nodeRuntime';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '../../..');

export interface MachineReport {
  cpus: number;
  model: string | undefined;
  node: string;
  loadAverage1m: { atStart: number; atEnd: number };
}

/** Call before starting anything: remembers the 1-minute load average now; `report()` adds the one at the end. */
export function watchMachine() {
  const loadAverageAtStart = loadavg()[0]!;
  return {
    loadAverageAtStart,
    report: (): MachineReport => ({
      cpus: cpus().length,
      model: cpus()[0]?.model,
      node: process.version,
      loadAverage1m: { atStart: loadAverageAtStart, atEnd: loadavg()[0]! },
    }),
  };
}

/** The machine as the summaries print it: "2 cores, MODEL; load average 0.4 → 1.9". */
export function describeMachine(machine: MachineReport): string {
  const { atStart, atEnd } = machine.loadAverage1m;
  return `${machine.cpus} cores, ${machine.model}; load average ${atStart.toFixed(1)} → ${atEnd.toFixed(1)}`;
}

/** Writes `reports/<fileName>` (pretty JSON, trailing newline) and returns its absolute path. */
export function writeReport(fileName: string, report: unknown): string {
  const path = join(repoRoot, 'reports', fileName);
  mkdirSync(join(repoRoot, 'reports'), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  return path;
}

/**
 * The Node.js the production image runs (docs/adr/0034-node-24.md) and its version: the processes a bench measures
 * (gateways, ingest, the subscription endpoint) run on it, whatever runs the bench.
 */
export async function productionNode(): Promise<{ binary: string; version: string }> {
  const binary = await ensureProductionNode();
  return { binary, version: execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim() };
}
