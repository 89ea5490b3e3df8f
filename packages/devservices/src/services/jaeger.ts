import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { goTool } from './goTool';
import { spawnManaged, waitUntilHealthy, type ManagedProcess } from './managedProcess';
import { versions } from './versions';

const host = '127.0.0.1';

/**
 * The path of a `jaeger` binary of the pinned version, built once into
 * `.cache/go/bin` (about 4 minutes on an empty Go cache). Its go.mod has
 * `replace` directives, which `go install` refuses, so it is built in a
 * tools module of its own.
 */
export const ensureJaeger = goTool({
  name: 'jaeger',
  module: 'github.com/jaegertracing/jaeger',
  installPath: 'github.com/jaegertracing/jaeger/cmd/jaeger',
  version: versions.jaeger,
  inToolsModule: true,
});

export interface JaegerPorts {
  /** OTLP over HTTP (`/v1/traces`); Jaeger's default is 4318. */
  otlpHttp: number;
  /** The UI and its HTTP query API (`/api/traces/<id>`); Jaeger's default is 16686. */
  query: number;
  /** The gRPC query API (unused here, but Jaeger always opens it); Jaeger's default is 16685. */
  queryGrpc: number;
}

export interface JaegerOptions {
  ports: JaegerPorts;
  /** Its log; its configuration is written beside it. */
  logFile: string;
  /** For the query API to answer; default 60_000. */
  deadlineMs?: number;
}

export interface RunningJaeger {
  /** Where the services send spans: `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly otlpEndpoint: string;
  /** The UI, and the query API under `/api`. */
  readonly uiUrl: string;
  readonly process: ManagedProcess;
  /** Idempotent. Traces are kept in memory only, so they are gone afterwards. */
  stop(): Promise<void>;
}

/**
 * Jaeger all-in-one on loopback, keeping traces in memory: the OTLP/HTTP
 * receiver and the query API/UI only, on the ports given. Jaeger's built-in
 * all-in-one configuration also opens fixed ports (gRPC OTLP, Jaeger and
 * Zipkin receivers, health, metrics), which would collide between two runs on
 * one machine, so it gets a configuration of its own.
 */
export async function startJaeger(options: JaegerOptions): Promise<RunningJaeger> {
  const binary = await ensureJaeger();
  const logFile = resolve(options.logFile);
  const configFile = join(dirname(logFile), 'jaeger.yaml');
  mkdirSync(dirname(logFile), { recursive: true });
  writeFileSync(configFile, jaegerConfig(options.ports));
  const managed = spawnManaged({
    name: 'jaeger',
    command: binary,
    args: ['--config', configFile],
    logFile,
  });
  const uiUrl = `http://${host}:${options.ports.query}`;
  const running: RunningJaeger = {
    otlpEndpoint: `http://${host}:${options.ports.otlpHttp}`,
    uiUrl,
    process: managed,
    stop: () => managed.stop(),
  };
  try {
    await waitUntilHealthy('jaeger', logFile, async () => (await fetch(`${uiUrl}/api/services`)).ok, options.deadlineMs ?? 60_000, managed);
  } catch (error) {
    await running.stop();
    throw error;
  }
  return running;
}

/** Jaeger v2's configuration (the OpenTelemetry collector's format): OTLP/HTTP in, memory storage, query API and UI. */
function jaegerConfig(ports: JaegerPorts): string {
  return `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  # Jaeger's own metrics and traces would take fixed ports, or go to localhost:4317.
  telemetry:
    metrics:
      level: none
    traces:
      level: none
    logs:
      level: info
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: ${host}:${ports.query}
    grpc:
      endpoint: ${host}:${ports.queryGrpc}
receivers:
  otlp:
    protocols:
      http:
        endpoint: ${host}:${ports.otlpHttp}
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}
