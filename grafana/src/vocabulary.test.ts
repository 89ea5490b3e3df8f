import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { seriesNamesOf } from './promql/seriesNames';
import { panelQueries } from './render';

const grafanaDir = fileURLToPath(new URL('../', import.meta.url));

/** Every series the processes export, from the vocabulary (e2e/prometheus.e2e.ts proves it is what they serve). */
function vocabularySeries(): Set<string> {
  const { metrics } = JSON.parse(readFileSync(`${grafanaDir}metrics.json`, 'utf8')) as { metrics: { name: string; type: string }[] };
  return new Set(metrics.flatMap(({ name, type }) => (type === 'histogram' ? [`${name}_bucket`, `${name}_count`, `${name}_sum`] : [name])));
}

/** Every series the recording rules of grafana/rules/ record. */
function recordedSeries(): Set<string> {
  const dir = `${grafanaDir}rules/`;
  const files = readdirSync(dir).filter((file) => file.endsWith('.yml'));
  return new Set(
    files.flatMap((file) => {
      const { groups } = parse(readFileSync(dir + file, 'utf8')) as { groups: { rules: { record?: string }[] }[] };
      return groups.flatMap((group) => group.rules.flatMap((rule) => (rule.record ? [rule.record] : [])));
    }),
  );
}

describe('the series the dashboards read', () => {
  it('are all exported by a process (grafana/metrics.json) or recorded by a rule (grafana/rules/)', () => {
    const known = new Set([...vocabularySeries(), ...recordedSeries()]);
    const unknown = panelQueries().flatMap(({ dashboard, panel, exprs }) =>
      exprs
        .flatMap(seriesNamesOf)
        .filter((name) => !known.has(name))
        .map((name) => `${dashboard} / ${panel}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });
});
