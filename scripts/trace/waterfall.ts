/**
 * A trace as a terminal waterfall: one line per span, indented under its
 * parent, with its start offset, duration, service and a bar on the trace's
 * time line. It stands in for the Jaeger UI, whose assets a Jaeger built from
 * its Go module lacks (docs/adr/0020-traces.md).
 */
import { rootStart, type JaegerSpan, type JaegerTrace } from './jaegerQuery';

const BAR_WIDTH = 32;

const parentOf = (span: JaegerSpan) => span.references.find((ref) => ref.refType === 'CHILD_OF')?.spanID;
const tagOf = (span: JaegerSpan, key: string) => span.tags.find((tag) => tag.key === key)?.value;
const failed = (span: JaegerSpan) => tagOf(span, 'error') === true || tagOf(span, 'otel.status_code') === 'ERROR';
const ms = (micros: number) => `${(micros / 1_000).toFixed(1)} ms`;
const utc = (micros: number) => new Date(micros / 1_000).toISOString().replace('T', ' ').replace('Z', ' UTC');

function traceEnd(trace: JaegerTrace): number {
  return Math.max(...trace.spans.map((span) => span.startTime + span.duration));
}

function serviceOf(trace: JaegerTrace, span: JaegerSpan): string {
  return trace.processes[span.processID]?.serviceName ?? '?';
}

/** The spans in tree order (each after its parent, siblings by start), with their depth. */
export function spansInTreeOrder(trace: JaegerTrace): { span: JaegerSpan; depth: number }[] {
  const ids = new Set(trace.spans.map((span) => span.spanID));
  const children = new Map<string | undefined, JaegerSpan[]>();
  for (const span of trace.spans) {
    // A span whose parent Jaeger does not have (the caller was not traced, or its span was dropped) is a root.
    const parent = parentOf(span);
    const key = parent !== undefined && ids.has(parent) ? parent : undefined;
    children.set(key, [...(children.get(key) ?? []), span]);
  }
  const ordered: { span: JaegerSpan; depth: number }[] = [];
  const visit = (parent: string | undefined, depth: number) => {
    for (const span of (children.get(parent) ?? []).sort((a, b) => a.startTime - b.startTime)) {
      ordered.push({ span, depth });
      visit(span.spanID, depth + 1);
    }
  };
  visit(undefined, 0);
  return ordered;
}

function bar(start: number, duration: number, traceStart: number, traceDuration: number): string {
  const scale = BAR_WIDTH / Math.max(traceDuration, 1);
  const from = Math.min(BAR_WIDTH - 1, Math.floor((start - traceStart) * scale));
  const width = Math.max(1, Math.min(BAR_WIDTH - from, Math.round(duration * scale)));
  return `|${' '.repeat(from)}${'█'.repeat(width)}${' '.repeat(BAR_WIDTH - from - width)}|`;
}

/** The whole trace, a header line and one line per span. */
export function renderWaterfall(trace: JaegerTrace): string {
  const start = rootStart(trace);
  const duration = traceEnd(trace) - start;
  const services = new Set(trace.spans.map((span) => serviceOf(trace, span)));
  const rows = spansInTreeOrder(trace).map(({ span, depth }) => ({
    offset: ms(span.startTime - start),
    duration: ms(span.duration),
    service: serviceOf(trace, span),
    bar: bar(span.startTime, span.duration, start, duration),
    name: `${'  '.repeat(depth)}${failed(span) ? '✗ ' : ''}${span.operationName}`,
    tenant: tagOf(span, 'tenant.id'),
  }));
  const width = (pick: (row: (typeof rows)[number]) => string, title: string) =>
    Math.max(title.length, ...rows.map((row) => pick(row).length));
  const offsetWidth = width((row) => row.offset, 'start');
  const durationWidth = width((row) => row.duration, 'duration');
  const serviceWidth = width((row) => row.service, 'service');
  const line = (offset: string, took: string, service: string, timeline: string, name: string) =>
    `${offset.padStart(offsetWidth)}  ${took.padStart(durationWidth)}  ${service.padEnd(serviceWidth)}  ${timeline}  ${name}`.trimEnd();
  return [
    `trace ${trace.traceID} · ${trace.spans.length} spans · ${services.size} services · ${ms(duration)} · ${utc(start)}`,
    line('start', 'duration', 'service', ' '.repeat(BAR_WIDTH + 2), 'span'),
    ...rows.map((row) =>
      line(
        row.offset,
        row.duration,
        row.service,
        row.bar,
        row.tenant === undefined ? row.name : `${row.name}  [tenant ${String(row.tenant)}]`,
      ),
    ),
  ].join('\n');
}

/** Recent traces, one line each: when, id, root span, spans, duration, and ✗ when a span failed. */
export function renderTraceList(traces: readonly JaegerTrace[]): string {
  if (traces.length === 0) return 'no traces';
  return traces
    .map((trace) => {
      const [root] = spansInTreeOrder(trace);
      const rootName = root === undefined ? '?' : `${serviceOf(trace, root.span)}: ${root.span.operationName}`;
      const mark = trace.spans.some(failed) ? ' ✗' : '';
      return `${utc(rootStart(trace))}  ${trace.traceID}  ${ms(traceEnd(trace) - rootStart(trace)).padStart(10)}  ${String(trace.spans.length).padStart(4)} spans  ${rootName}${mark}`;
    })
    .join('\n');
}
