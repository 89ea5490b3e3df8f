import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { substituteVariables } from './seriesNames';

/** The queries of one panel, named for promtool's messages. */
export interface NamedQueries {
  name: string;
  exprs: readonly string[];
}

/**
 * Parses queries with Prometheus's own parser: each panel becomes a rule
 * group (named after it) of recording rules whose expressions are its
 * queries, Grafana variables substituted, and `promtool check rules` reads
 * the file. A rules file, not `promtool promql`: Debian's promtool (2.42)
 * has no command that only parses an expression.
 */
export async function checkWithPromtool(promtool: string, panels: readonly NamedQueries[]): Promise<{ ok: boolean; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'dashboard-queries-'));
  const file = join(dir, 'queries.yml');
  const groups = panels.map(({ name, exprs }, group) => ({
    name,
    // Distinct names: promtool's lint refuses two rules recording the same series.
    rules: exprs.map((expr, index) => ({ record: `dashboard_query_${group}_${index}`, expr: substituteVariables(expr) })),
  }));
  // JSON is YAML, so the file needs no YAML writer.
  await writeFile(file, JSON.stringify({ groups }, null, 2));
  try {
    const { stdout, stderr } = await promisify(execFile)(promtool, ['check', 'rules', file]);
    return { ok: true, output: stdout + stderr };
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${failed.stdout ?? ''}${failed.stderr ?? failed.message}` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
