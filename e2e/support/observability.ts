import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';

/**
 * The observability artefacts of grafana/ as data, for the tests that check
 * them against promtool, the running processes and each other
 * (docs/adr/0021-prometheus-rules-and-slos.md).
 */
export const grafanaDir = resolve(import.meta.dirname, '..', '..', 'grafana');
export const rulesDir = join(grafanaDir, 'rules');
export const ruleTestsDir = join(rulesDir, 'tests');

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}

/** Every rule file (`grafana/rules/*.yml`), absolute paths. */
export function ruleFiles(): string[] {
  return readdirSync(rulesDir)
    .filter((name) => name.endsWith('.yml'))
    .sort()
    .map((name) => join(rulesDir, name));
}

/** Every promtool unit-test file (`grafana/rules/tests/*.test.yml`). */
export function ruleTestFiles(): string[] {
  return readdirSync(ruleTestsDir)
    .filter((name) => name.endsWith('.test.yml'))
    .sort()
    .map((name) => join(ruleTestsDir, name));
}

/** Every rule of every rule file, with the file it is in. */
export function allRules(): (Rule & { file: string })[] {
  return ruleFiles().flatMap((file) =>
    (parse(readFileSync(file, 'utf8')) as RuleFile).groups.flatMap((group) => group.rules.map((rule) => ({ ...rule, file }))),
  );
}

/**
 * Copies of the rule files into `dir` with every alert's `for` removed, for
 * a test that watches an alert fire on a real Prometheus: the expressions and
 * thresholds are the production ones, only the hold time (which the promtool
 * tests cover) is dropped so the test needs not wait it out.
 */
export function writeRulesWithoutHoldTimes(dir: string): string[] {
  return ruleFiles().map((file) => {
    const parsed = parse(readFileSync(file, 'utf8')) as RuleFile;
    for (const group of parsed.groups) for (const rule of group.rules) delete rule.for;
    const copy = join(dir, file.slice(rulesDir.length + 1));
    writeFileSync(copy, stringify(parsed));
    return copy;
  });
}

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

/** One metric of the vocabulary (grafana/metrics.json, documented in grafana/README.md). */
export interface MetricDefinition {
  name: string;
  type: MetricType;
  /** The processes that export it (their `service` label). */
  services: string[];
  /** Its own labels; `service` (and `le` of histograms) come on top. */
  labels: string[];
  help: string;
}

export interface MetricVocabulary {
  /** Every process of the application, by its `service` label. */
  services: string[];
  metrics: MetricDefinition[];
}

export function readMetricVocabulary(): MetricVocabulary {
  return JSON.parse(readFileSync(join(grafanaDir, 'metrics.json'), 'utf8')) as MetricVocabulary;
}

/**
 * The series names a metric of the vocabulary appears as in PromQL: a
 * histogram's `_bucket`, `_sum` and `_count`, a summary's `_sum` and `_count`.
 */
export function seriesNames(metric: MetricDefinition): string[] {
  if (metric.type === 'histogram') return ['_bucket', '_sum', '_count'].map((suffix) => metric.name + suffix);
  if (metric.type === 'summary') return [metric.name, metric.name + '_sum', metric.name + '_count'];
  return [metric.name];
}
