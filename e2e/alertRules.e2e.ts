import { runPromtool } from '@coherence/devservices/prometheus';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { allRules, grafanaDir, readMetricVocabulary, ruleFiles, ruleTestFiles, rulesDir, seriesNames } from './support/observability';

/**
 * The rules of grafana/rules/ checked and unit-tested by promtool (Debian's,
 * from the dev services kit), and held to the metric vocabulary and the
 * runbooks (docs/adr/0021-prometheus-rules-and-slos.md). The alert firing on
 * a real Prometheus is e2e/prometheus.e2e.ts.
 */
const repoRoot = resolve(import.meta.dirname, '..');
const alerts = allRules().filter((rule) => rule.alert !== undefined);

interface RuleTestFile {
  tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}

/** PromQL words that are not metric names: operators, modifiers, aggregations (functions are followed by "("). */
const promqlWords = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool']);

/** The metric (or recorded) names an expression selects. */
function selectedNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings (label values, label_replace arguments)
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '') // label lists
    .replace(/\[[^\]]*\]/g, '') // ranges
    .replace(/\boffset\s+\w+/g, ''); // offsets
  return [...stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(?![a-zA-Z0-9_:]|\s*\()/g)]
    .map(([name]) => name)
    .filter((name) => !promqlWords.has(name) && !/^(Inf|NaN)$/i.test(name) && !/^\d/.test(name));
}

describe('grafana/metrics.json', () => {
  it('is documented in grafana/README.md, metric by metric', () => {
    const readme = readFileSync(join(grafanaDir, 'README.md'), 'utf8');
    const undocumented = readMetricVocabulary()
      .metrics.map((metric) => metric.name)
      .filter((name) => !readme.includes(`\`${name}\``));
    expect(undocumented).toEqual([]);
  });
});

describe('grafana/rules', () => {
  it('passes promtool check rules (syntax, lint)', async () => {
    const result = await runPromtool(['check', 'rules', ...ruleFiles()]);
    expect(result.output).not.toMatch(/FAILED|lint error/);
    expect(result.exitCode).toBe(0);
  });

  it('passes every promtool unit test', async () => {
    const result = await runPromtool(['test', 'rules', ...ruleTestFiles()], { cwd: rulesDir });
    expect(result.output).not.toContain('FAILED');
    expect(result.exitCode, result.output).toBe(0);
  });

  it('has a unit test per alert that sees it fire and one that sees it stay quiet', () => {
    const cases = ruleTestFiles().flatMap((file) =>
      (parse(readFileSync(file, 'utf8')) as RuleTestFile).tests.flatMap((test) => test.alert_rule_test ?? []),
    );
    const untested = alerts.flatMap(({ alert }) => {
      const own = cases.filter((c) => c.alertname === alert);
      const fires = own.some((c) => (c.exp_alerts ?? []).length > 0);
      const quiet = own.some((c) => (c.exp_alerts ?? []).length === 0);
      return fires && quiet ? [] : [`${alert}: ${fires ? '' : 'no test where it fires '}${quiet ? '' : 'no test where it stays quiet'}`];
    });
    expect(untested).toEqual([]);
  });

  it('links every alert to a runbook that exists, with a severity and a team to page', () => {
    const problems = alerts.flatMap(({ alert, labels, annotations }) => {
      const url = annotations?.['runbook_url'];
      return [
        ...(url === undefined ? [`${alert}: no runbook_url`] : []),
        ...(url !== undefined && !(url.startsWith('docs/runbooks/') && existsSync(join(repoRoot, url)))
          ? [`${alert}: ${url} does not exist`]
          : []),
        ...(['page', 'ticket', 'warning'].includes(labels?.['severity'] ?? '')
          ? []
          : [`${alert}: severity is not page, ticket or warning`]),
        ...(labels?.['team'] ? [] : [`${alert}: no team`]),
      ];
    });
    expect(problems).toEqual([]);
    expect(alerts.length).toBeGreaterThanOrEqual(17);
  });

  it('selects only metrics of the vocabulary (grafana/metrics.json) or recorded series', () => {
    const known = new Set([
      ...readMetricVocabulary().metrics.flatMap(seriesNames),
      ...allRules().flatMap((rule) => (rule.record ? [rule.record] : [])),
    ]);
    const unknown = allRules().flatMap((rule) =>
      selectedNames(rule.expr)
        .filter((name) => !known.has(name))
        .map((name) => `${rule.alert ?? rule.record}: ${name}`),
    );
    expect(unknown).toEqual([]);
    // The extraction itself: a name the vocabulary lacks is caught.
    expect(selectedNames('sum by (tenant) (rate(no_such_metric_total{a="b"}[5m])) > 0 and on (x) other:recorded')).toEqual([
      'no_such_metric_total',
      'other:recorded',
    ]);
  });
});
