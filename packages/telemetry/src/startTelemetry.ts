import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as OTLPJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { AlwaysOffSampler, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace';
import { createAddHookMessageChannel } from 'import-in-the-middle';
import { register } from 'node:module';
import { headSampler } from './headSampler';
import { keepRefusedRequestSpans, keepTailKeptSpans, ReplayableIdGenerator } from './serverSpans';
import { TenantAttributeProcessor } from './tenantBaggage';

/** The processes, by their `service.name`. */
export type ServiceName = 'gateway' | 'ingest' | 'ingest-consumer' | 'relay' | 'coherence' | 'comms' | 'comms-worker';

export interface TelemetryOptions {
  serviceName: ServiceName;
  /**
   * Export the span of a refused or failed request even when the head
   * sampler dropped its trace (the gateway's tail decision, see
   * startServerSpan).
   */
  keepRefusedRequests?: boolean;
  /**
   * The library instrumentations (HTTP client, `fetch`, `pg`, `ioredis`,
   * `kafkajs`; default true). The gateway turns them off and traces its
   * calls itself (its steps, subgraph fetches and Postgres queries): loading
   * any of them installs the module-loading hook they all patch through
   * (`require-in-the-middle`), and with that hook alone the gateway's CPU
   * per cached read rose by 13 % and 16 % in two `bench:gateway` runs,
   * unsampled requests included (docs/adr/0020-traces.md).
   */
  libraryInstrumentations?: boolean;
}

let sdk: NodeSDK | undefined;

/**
 * Starts OpenTelemetry in this process: W3C `traceparent` + `baggage`
 * propagation, the head sampler of {@link headSampler}, `tenant.id` on every
 * span, and (unless `libraryInstrumentations` is false) the HTTP client,
 * `fetch`, `pg`, `ioredis` and `kafkajs` instrumentations. It must run before those modules are imported:
 * each `main.ts` awaits it first and imports the rest afterwards, and it
 * registers the ESM loader hook that lets the instrumentations patch modules
 * imported with `import` (docs/adr/0020-traces.md). Spans are exported over OTLP/HTTP (protobuf unless
 * `OTEL_EXPORTER_OTLP_PROTOCOL` says `http/json`) only when an
 * endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; the exporter reads the other
 * `OTEL_EXPORTER_OTLP_*` variables itself); without one, no span is
 * recorded, while trace ids are still continued and propagated. `OTEL_SDK_DISABLED=true`
 * turns all of it off. The SDK reads `OTEL_RESOURCE_ATTRIBUTES` itself (the
 * Helm chart names the region there).
 */
export async function startTelemetry(options: TelemetryOptions, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (sdk !== undefined) throw new Error('telemetry is already started');
  if (env['OTEL_SDK_DISABLED'] === 'true') return;
  const instrumented = options.libraryInstrumentations !== false;
  // Only the modules an instrumentation hooks are wrapped, not every import.
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  if (instrumented) register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  const exporter = exportsSpans(env) ? new BatchSpanProcessor({ exporter: otlpExporter(env), ...batchConfig(env) }) : undefined;
  keepRefusedRequestSpans(options.keepRefusedRequests === true && exporter !== undefined);
  sdk = new NodeSDK({
    serviceName: options.serviceName,
    resource: resourceFromAttributes({ 'deployment.environment.name': env['NODE_ENV'] ?? 'development' }),
    // With nowhere to send spans, recording them would cost for nothing: no span records, while the
    // trace id still goes on to every hop and log line (a sampled caller's flag does not, though).
    sampler: exporter === undefined ? new AlwaysOffSampler() : keepTailKeptSpans(headSampler(env)),
    // A refused request's span is exported after the fact with the ids it was answered with.
    idGenerator: new ReplayableIdGenerator(),
    spanProcessors: exporter === undefined ? [new TenantAttributeProcessor()] : [new TenantAttributeProcessor(), exporter],
    // Traces only: metrics are Prometheus's (prom-client) and logs are pino's. Left unset, the SDK would
    // start an OTLP metrics and logs exporter of its own, and the HTTP instrumentation would record a
    // histogram per request, for nothing.
    metricReaders: [],
    logRecordProcessors: [],
    textMapPropagator: new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
    instrumentations: instrumented
      ? [
          // Outgoing calls only: a request's server span is our own (startServerSpan, in createBaseApp).
          new HttpInstrumentation({ disableIncomingRequestInstrumentation: true }),
          new UndiciInstrumentation(),
          // Only inside a traced unit of work: a pool's own chatter is no trace.
          new PgInstrumentation({ requireParentSpan: true }),
          new IORedisInstrumentation({ requireParentSpan: true }),
          new KafkaJsInstrumentation(),
        ]
      : [],
  });
  sdk.start();
  await waitForAllMessagesAcknowledged();
}

/** Exports what is still buffered and stops; the last step of a graceful shutdown. */
export async function shutdownTelemetry(): Promise<void> {
  await sdk?.shutdown();
  sdk = undefined;
}

/**
 * The OTLP/HTTP exporter `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` (or
 * `OTEL_EXPORTER_OTLP_PROTOCOL`) asks for: `http/protobuf` by default, as the
 * specification says, a fraction of JSON's encoding cost per span
 * (docs/adr/0020-traces.md); `http/json` on request.
 */
function otlpExporter(env: NodeJS.ProcessEnv): SpanExporter {
  const protocol = env['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'] || env['OTEL_EXPORTER_OTLP_PROTOCOL'] || 'http/protobuf';
  if (protocol === 'http/protobuf') return new OTLPProtobufTraceExporter();
  if (protocol === 'http/json') return new OTLPJsonTraceExporter();
  throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL=${protocol} is not supported: use http/protobuf or http/json`);
}

/**
 * The batch processor's settings from the standard `OTEL_BSP_*` variables
 * (sdk-trace 2 no longer reads them itself); each unset one keeps the
 * SDK's default. A value that is not a positive integer stops the start.
 */
export function batchConfig(env: NodeJS.ProcessEnv) {
  const setting = (name: string): number | undefined => {
    const text = env[name];
    if (text === undefined || text === '') return undefined;
    const value = Number(text);
    if (!Number.isInteger(value) || value <= 0) throw new Error(`${name}=${text} is not a positive integer`);
    return value;
  };
  return {
    ...optional('maxExportBatchSize', setting('OTEL_BSP_MAX_EXPORT_BATCH_SIZE')),
    ...optional('scheduledDelayMillis', setting('OTEL_BSP_SCHEDULE_DELAY')),
    ...optional('maxQueueSize', setting('OTEL_BSP_MAX_QUEUE_SIZE')),
    ...optional('exportTimeoutMillis', setting('OTEL_BSP_EXPORT_TIMEOUT')),
  };
}

const optional = <K extends string>(key: K, value: number | undefined) =>
  value === undefined ? {} : ({ [key]: value } as Record<K, number>);

function exportsSpans(env: NodeJS.ProcessEnv): boolean {
  if (env['OTEL_TRACES_EXPORTER'] === 'none') return false;
  return Boolean(env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_ENDPOINT']);
}
