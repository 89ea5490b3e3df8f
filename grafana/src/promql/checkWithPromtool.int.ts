import { promtoolPath } from '@coherence/devservices/prometheus';
import { beforeAll, describe, expect, it } from 'vitest';
import { panelQueries } from '../render';
import { checkWithPromtool } from './checkWithPromtool';

describe("promtool parses the dashboards' PromQL", () => {
  let promtool: string;
  beforeAll(async () => {
    promtool = await promtoolPath();
  });

  it("accepts every panel's queries", async () => {
    const panels = panelQueries().map(({ dashboard, row, panel, exprs }) => ({ name: `${dashboard} / ${row} / ${panel}`, exprs }));
    const result = await checkWithPromtool(promtool, panels);
    expect(result.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(result.ok, result.output).toBe(true);
  });

  it('refuses a query that does not parse, naming its panel', async () => {
    const result = await checkWithPromtool(promtool, [
      { name: 'Broken / unclosed sum', exprs: ['sum(rate(gateway_cache_requests_total{region=~"$region"}[$__rate_interval])'] },
    ]);
    expect(result.ok).toBe(false);
    expect(result.output).toContain('Broken / unclosed sum');
  });
});
