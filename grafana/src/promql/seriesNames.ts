import { parser } from '@prometheus-io/lezer-promql';

/**
 * The Grafana variables the panels use, replaced by values PromQL accepts, so
 * that Prometheus's own tools can parse a panel's query: an interval for the
 * `$__…` time variables, a label value for the others (`$region`, `${tenant}`).
 */
export function substituteVariables(expr: string): string {
  return expr.replace(/\$__(rate_interval|interval|range)\b/g, '5m').replace(/\$\{?[A-Za-z_]\w*\}?/g, 'variable_value');
}

/**
 * The series names a panel's expression selects (its Grafana variables
 * substituted), read from its syntax tree (the lezer grammar of Prometheus's
 * own UI): each selector's metric name, or its `__name__="…"` matcher. A selector without a fixed name would let a panel
 * read series no test can check, so it throws; so does a syntax error.
 */
export function seriesNamesOf(panelExpr: string): string[] {
  const expr = substituteVariables(panelExpr);
  const tree = parser.parse(expr);
  const names = new Set<string>();
  const text = (from: number, to: number) => expr.slice(from, to);
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) throw new Error(`PromQL syntax error at ${node.from} in: ${expr}`);
      if (node.name !== 'VectorSelector') return;
      const identifier = node.node.getChild('Identifier');
      if (identifier) {
        names.add(text(identifier.from, identifier.to));
        return;
      }
      const byName = node.node
        .getChild('LabelMatchers')
        ?.getChildren('UnquotedLabelMatcher')
        .find((matcher) => {
          const label = matcher.getChild('LabelName');
          const op = matcher.getChild('MatchOp');
          return label && op && text(label.from, label.to) === '__name__' && text(op.from, op.to) === '=';
        })
        ?.getChild('StringLiteral');
      if (!byName) throw new Error(`a selector without a fixed metric name: ${text(node.from, node.to)} in: ${expr}`);
      names.add(JSON.parse(text(byName.from, byName.to)) as string);
    },
  });
  return [...names];
}
