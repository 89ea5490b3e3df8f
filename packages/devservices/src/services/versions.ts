/**
 * The one place where the versions of the servers the dev services kit provisions
 * are pinned. For the JVM servers (neo4j, kafka), bumping a version here makes
 * the next start fetch the matching jars into a new
 * `.cache/jvm/<component>-<version>/` folder.
 */
export const versions = {
  /** Neo4j 5.26 is the LTS line that still runs on Java 17 (2025.x needs Java 21). */
  neo4j: '5.26.30',
  /** Kafka 3.9 is the last line with kafkajs 2.x known to work; 4.x is unverified. */
  kafka: '3.9.2',
  /** Debian 12's `postgresql-15` (has pg_basebackup); the point release follows Debian's security updates. */
  postgresMajor: 15,
  /** Debian 12's `redis-server` series; startRedis() refuses another one. */
  redis: '7.0',
  /** OPA, built with `go install` into `.cache/go/bin`; compiles policy/ to Wasm and runs `opa test`. Changing it changes policy/bundle (npm run policy:build). */
  opa: '1.22.2',
  /** Helm 3, built with `go install` into `.cache/go/bin` like OPA; lints and renders helm/coherence in the chart tests. */
  helm: '3.22.0',
  /** Debian 12's `prometheus` (with `promtool`), unpacked into `.cache/debian/`; ensurePrometheus() refuses another series. */
  prometheus: '2.42',
  /** Jaeger all-in-one (v2, on the OpenTelemetry collector), built from source into `.cache/go/bin` (see jaeger.ts); the trace backend of the stack and the trace test. */
  jaeger: '1.76.0',
  /** The Node.js of the production image (Containerfile); benches run the application's processes on it (nodeRuntime.ts, docs/adr/0034-node-24.md). */
  node: '24.21.0',
  /** npm `unleash-server`, a dependency of @coherence/devservices (exact, so npm ci provisions it); 7.5 is the last line that runs on Node 20. */
  unleash: '7.5.1',
} as const;
