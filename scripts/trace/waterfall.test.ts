import { describe, expect, it } from 'vitest';
import type { JaegerSpan, JaegerTrace } from './jaegerQuery';
import { renderTraceList, renderWaterfall, spansInTreeOrder } from './waterfall';

const T0 = Date.UTC(2026, 10, 26, 21, 0, 0) * 1_000;

function span(
  id: string,
  name: string,
  process: string,
  startMs: number,
  durationMs: number,
  parent?: string,
  extraTags: JaegerSpan['tags'] = [],
): JaegerSpan {
  return {
    traceID: 'ab'.repeat(16),
    spanID: id,
    operationName: name,
    processID: process,
    references: parent === undefined ? [] : [{ refType: 'CHILD_OF', spanID: parent }],
    startTime: T0 + startMs * 1_000,
    duration: durationMs * 1_000,
    tags: [{ key: 'tenant.id', value: 'acme' }, ...extraTags],
  };
}

// Given out of order, as Jaeger does: children before parents, a later sibling first.
const trace: JaegerTrace = {
  traceID: 'ab'.repeat(16),
  processes: { p1: { serviceName: 'gateway' }, p2: { serviceName: 'coherence' } },
  spans: [
    span('c2', 'POST /graphql', 'p2', 30, 10, 'b1'),
    span('b2', 'gateway policy', 'p1', 5, 2, 'a1', [{ key: 'otel.status_code', value: 'ERROR' }]),
    span('b1', 'gateway plan', 'p1', 20, 30, 'a1'),
    span('a1', 'POST /graphql', 'p1', 0, 100),
    span('x1', 'orphan', 'p2', 60, 5, 'not-in-trace'),
  ],
};

describe('spansInTreeOrder', () => {
  it('puts every span after its parent and siblings by start, with spans of missing parents as roots', () => {
    expect(spansInTreeOrder(trace).map(({ span: s, depth }) => `${depth}:${s.spanID}`)).toEqual(['0:a1', '1:b2', '1:b1', '2:c2', '0:x1']);
  });
});

describe('renderWaterfall', () => {
  const lines = renderWaterfall(trace).split('\n');

  it('heads the trace with its id, size, services, duration and start', () => {
    expect(lines[0]).toBe(`trace ${'ab'.repeat(16)} · 5 spans · 2 services · 100.0 ms · 2026-11-26 21:00:00.000 UTC`);
  });

  it('gives each span its offset, duration, service, a bar on the time line and its tenant, indented under its parent', () => {
    const plan = lines.find((line) => line.includes('gateway plan'))!;
    expect(plan).toMatch(/^ *20\.0 ms +30\.0 ms +gateway +\|[ █]{32}\| +gateway plan +\[tenant acme\]$/);
    // 20 ms into 100 ms on a 32-wide line: the bar starts at column 6 and is 10 wide.
    expect(plan.slice(plan.indexOf('|') + 1, plan.lastIndexOf('|'))).toBe(`${' '.repeat(6)}${'█'.repeat(10)}${' '.repeat(16)}`);
    const subgraph = lines.find((line) => line.includes('coherence') && line.includes('POST /graphql'))!;
    expect(subgraph).toContain('|      POST /graphql');
  });

  it('marks failed spans', () => {
    expect(lines.find((line) => line.includes('gateway policy'))).toContain('✗ gateway policy');
    expect(lines.find((line) => line.includes('gateway plan'))).not.toContain('✗');
  });
});

describe('renderTraceList', () => {
  it('lists each trace with its root span and a mark when a span failed', () => {
    const listed = renderTraceList([trace]);
    expect(listed).toContain('ab'.repeat(16));
    expect(listed).toContain('100.0 ms');
    expect(listed).toMatch(/5 spans +gateway: POST \/graphql ✗$/);
    expect(renderTraceList([])).toBe('no traces');
  });
});
