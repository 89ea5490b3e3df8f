/**
 * `npm run trace`: open a trace from the terminal. Asks Jaeger's query API
 * (the stack's Jaeger by default) for one trace and prints it as a waterfall,
 * or lists the recent traces of a service to pick one from.
 */
import { fetchJaegerTrace, findJaegerTraces, JaegerQueryError, listJaegerServices } from './trace/jaegerQuery';
import { renderTraceList, renderWaterfall } from './trace/waterfall';
import { parseCommandLine, usageError } from './commandLine';

const defaultQueryUrl = process.env['JAEGER_QUERY_URL'] ?? 'http://127.0.0.1:16686';

const usage = `usage: npm run trace -- <trace id> [--json] [--jaeger URL]
       npm run trace -- --recent [--service NAME] [--limit N] [--lookback MINUTES] [--jaeger URL]

Prints one trace as a waterfall (start offset, duration, service, time line, span, tenant),
spans indented under their parents and failed ones marked ✗; or, with --recent, the latest
traces of a service, newest first. The trace id is the second field of a traceparent header
(the gateway and ingest answer with theirs when the sampler kept the request).

  --json             the trace as Jaeger's query API returns it
  --recent           list recent traces instead of showing one
  --service NAME     with --recent: whose traces (default gateway; --services lists them)
  --services         list the services Jaeger has spans of
  --limit N          with --recent: how many (default 20)
  --lookback M       with --recent: how far back, in minutes (default 60)
  --jaeger URL       Jaeger's query API (default ${defaultQueryUrl}, or JAEGER_QUERY_URL)
  -h, --help         this help`;

const { values, positionals } = parseCommandLine(usage, {
  allowPositionals: true,
  options: {
    json: { type: 'boolean' },
    recent: { type: 'boolean' },
    services: { type: 'boolean' },
    service: { type: 'string', default: 'gateway' },
    limit: { type: 'string', default: '20' },
    lookback: { type: 'string', default: '60' },
    jaeger: { type: 'string', default: defaultQueryUrl },
  },
});
const limit = Number(values.limit);
const lookbackMinutes = Number(values.lookback);
if (!Number.isInteger(limit) || limit < 1 || !Number.isInteger(lookbackMinutes) || lookbackMinutes < 1)
  usageError(usage, '--limit and --lookback take a whole number above 0');
const modes = [values.recent, values.services, positionals.length > 0].filter(Boolean).length;
if (modes !== 1 || positionals.length > 1) usageError(usage, 'give one trace id, or --recent, or --services');
const [traceId] = positionals;
if (traceId !== undefined && !/^[0-9a-f]{32}$/.test(traceId)) usageError(usage, `not a trace id (32 lowercase hex digits): ${traceId}`);

try {
  if (values.services) {
    console.log((await listJaegerServices(values.jaeger)).join('\n'));
  } else if (values.recent) {
    console.log(renderTraceList(await findJaegerTraces(values.jaeger, { service: values.service, limit, lookbackMinutes })));
  } else {
    const trace = await fetchJaegerTrace(values.jaeger, traceId!);
    if (trace === undefined) {
      console.error(
        `Jaeger at ${values.jaeger} has no span of trace ${traceId}: the sampler may have dropped it (OTEL_TRACES_SAMPLER_ARG, default 0.15; ` +
          'send a traceparent ending in -01 to ask for it), it may not be exported yet (a few seconds), or Jaeger was restarted (it keeps traces in memory).',
      );
      process.exit(1);
    }
    console.log(values.json ? JSON.stringify(trace, null, 2) : renderWaterfall(trace));
  }
} catch (error) {
  if (!(error instanceof JaegerQueryError)) throw error;
  console.error(`${error.message}\nIs the stack running (npm run stack)? Another Jaeger: --jaeger URL.`);
  process.exit(1);
}
