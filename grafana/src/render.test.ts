import { describe, expect, it } from 'vitest';
import { seriesNamesOf } from './promql/seriesNames';
import { buildDashboards, panelQueries, panelsOf, queriesOf, renderDashboardFiles } from './render';
import { exported, recordedNames } from './series';

const built = buildDashboards();
const panels = panelQueries(built);

/** Names src/series.ts declares, a histogram's also with the suffixes of its series. */
const declared = new Set([
  ...Object.values(exported).flatMap((name) => [name, `${name}_bucket`, `${name}_count`, `${name}_sum`]),
  ...recordedNames,
]);

describe('the dashboards', () => {
  it('are the seven of issue 15, each with a uid of its own (its file name)', () => {
    expect(built.map((board) => board.uid)).toEqual([
      'coherence-gateway-overview',
      'coherence-ingest',
      'coherence-relay-graph',
      'coherence-subscriptions',
      'coherence-comms',
      'coherence-slo',
      'coherence-tenant-cost',
    ]);
    expect([...renderDashboardFiles().keys()]).toEqual([...built.map((board) => `${board.uid}.json`), 'README.md']);
  });

  it('give every panel a title, a description and at least one query, every query a legend', () => {
    for (const board of built) {
      for (const panel of panelsOf(board)) {
        expect(panel.title, board.title).toBeTruthy();
        expect(panel.description, `${board.title} / ${panel.title}`).toBeTruthy();
        expect(queriesOf(panel).length, `${board.title} / ${panel.title}`).toBeGreaterThan(0);
        for (const query of queriesOf(panel)) expect(query.legendFormat, `${board.title} / ${panel.title}`).toBeTruthy();
      }
    }
  });

  it('name only series declared in src/series.ts, so a rename is one edit there', () => {
    const undeclared = panels.flatMap(({ dashboard, panel, exprs }) =>
      exprs
        .flatMap(seriesNamesOf)
        .filter((name) => !declared.has(name))
        .map((name) => `${dashboard} / ${panel}: ${name}`),
    );
    expect(undeclared).toEqual([]);
  });

  it("filter every exported metric's selector on the region variable (recording rules have no region)", () => {
    for (const { dashboard, panel, exprs } of panels) {
      for (const expr of exprs) {
        for (const [selector, name = ''] of expr.matchAll(/([a-zA-Z_:][\w:]*)\{[^}]*\}/g)) {
          if (!name.includes(':')) expect(selector, `${dashboard} / ${panel}`).toMatch(/\{region=~"\$region"/);
        }
      }
    }
  });

  it('are listed in grafana/dashboards/README.md panel by panel, with the PromQL behind each', () => {
    const readme = renderDashboardFiles().get('README.md') ?? '';
    for (const board of built) expect(readme).toContain(`## ${board.title}`);
    for (const { panel, exprs } of panels) {
      expect(readme).toContain(`**${panel}**`);
      for (const expr of exprs) expect(readme).toContain(`\`${expr}\``);
    }
  });
});
