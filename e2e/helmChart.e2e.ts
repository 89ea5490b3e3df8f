import { ensureHelm } from '@coherence/devservices/helm';
import { validate as validateDockerfile } from 'dockerfile-utils';
import { validate as validateHorizontalPodAutoscaler } from 'kubernetes-models/_schemas/IoK8sApiAutoscalingV2HorizontalPodAutoscaler';
import { validate as validateDeployment } from 'kubernetes-models/_schemas/IoK8sApiAppsV1Deployment';
import { validate as validateJob } from 'kubernetes-models/_schemas/IoK8sApiBatchV1Job';
import { validate as validateConfigMap } from 'kubernetes-models/_schemas/IoK8sApiCoreV1ConfigMap';
import { validate as validateService } from 'kubernetes-models/_schemas/IoK8sApiCoreV1Service';
import { validate as validateIngress } from 'kubernetes-models/_schemas/IoK8sApiNetworkingV1Ingress';
import { validate as validateNetworkPolicy } from 'kubernetes-models/_schemas/IoK8sApiNetworkingV1NetworkPolicy';
import { validate as validatePodDisruptionBudget } from 'kubernetes-models/_schemas/IoK8sApiPolicyV1PodDisruptionBudget';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

/**
 * The Helm chart (helm/coherence) as `helm lint --strict` and `helm template`
 * see it with each region overlay, every rendered document checked against
 * the Kubernetes API schemas (unknown fields refused), and the security
 * posture read from the rendered YAML. Helm is built on first use into
 * `.cache/go/bin` (ensureHelm, a few minutes once).
 */

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const chartDir = join(repoRoot, 'helm', 'coherence');
/** The oldest Kubernetes the chart supports (Chart.yaml kubeVersion); a `go install`ed Helm assumes 1.20 otherwise. */
const kubeVersion = '1.27.0';
const regions = ['us', 'eu'] as const;
/** Every process of the README's table, by the chart's component name. */
const components = ['gateway', 'ingest', 'ingest-consumer', 'coherence', 'relay', 'comms', 'comms-worker'];
/** The admin port of each (docs/adr/0016-admin-listeners.md). */
const adminPorts: Record<string, number> = {
  gateway: 4100,
  ingest: 4101,
  coherence: 4102,
  comms: 4103,
  relay: 4110,
  'ingest-consumer': 4111,
  'comms-worker': 4112,
};

type ValidateFunction = ((data: unknown) => boolean) & { errors?: { instancePath: string; keyword: string; params: unknown }[] | null };
const apiSchemas: Record<string, ValidateFunction> = {
  'apps/v1 Deployment': validateDeployment,
  'v1 Service': validateService,
  'v1 ConfigMap': validateConfigMap,
  'networking.k8s.io/v1 Ingress': validateIngress,
  'networking.k8s.io/v1 NetworkPolicy': validateNetworkPolicy,
  'autoscaling/v2 HorizontalPodAutoscaler': validateHorizontalPodAutoscaler,
  'policy/v1 PodDisruptionBudget': validatePodDisruptionBudget,
  'batch/v1 Job': validateJob,
};

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // The rendered documents are read loosely here; their shape is what the API schemas check.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

let helm: string;
/** Values files and artifacts the tests write. */
let scratch: string;
beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'coherence-chart-'));
  helm = await ensureHelm();
}, 900_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function runHelm(args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(helm, args, { cwd: repoRoot, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

async function render(valuesFiles: string[], extraArgs: string[] = []): Promise<Manifest[]> {
  const stdout = await runHelm([
    'template',
    'coherence',
    chartDir,
    '--kube-version',
    kubeVersion,
    ...valuesFiles.flatMap((file) => ['-f', file]),
    ...extraArgs,
  ]);
  return parseAllDocuments(stdout)
    .map((document) => document.toJS() as Manifest | null)
    .filter((manifest): manifest is Manifest => manifest !== null);
}

const overlay = (region: string): string => join(chartDir, `values-${region}.yaml`);
const ofKind = (manifests: Manifest[], kind: string): Manifest[] => manifests.filter((manifest) => manifest.kind === kind);
const component = (manifest: Manifest): string | undefined => manifest.metadata.labels?.['app.kubernetes.io/component'];

/**
 * The problems of one document against its Kubernetes API schema, unknown
 * fields included. The generated validators do not refuse unknown fields (the
 * API's OpenAPI schemas do not say `additionalProperties: false`), so the
 * document is validated through proxies that record which fields the
 * validator looked up: every field of the schema is looked up, so a field it
 * never read is one the API does not know. An object the validator
 * enumerated (a map: labels, data) has no fixed fields.
 */
function apiProblems(manifest: Manifest): string[] {
  const validate = apiSchemas[`${manifest.apiVersion} ${manifest.kind}`];
  if (!validate) return [`${manifest.apiVersion} ${manifest.kind} is not a kind the chart is expected to render`];
  const read = new WeakMap<object, Set<PropertyKey>>();
  const enumerated = new WeakSet<object>();
  const watch = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    return new Proxy(value, {
      get(target, key) {
        let keys = read.get(target);
        if (!keys) read.set(target, (keys = new Set()));
        keys.add(key);
        return watch(Reflect.get(target, key));
      },
      ownKeys(target) {
        enumerated.add(target);
        return Reflect.ownKeys(target);
      },
    });
  };
  const problems: string[] = [];
  if (!validate(watch(manifest))) {
    for (const error of validate.errors ?? [])
      problems.push(`${error.instancePath || '/'} ${error.keyword} ${JSON.stringify(error.params)}`);
  }
  const unknownFields = (value: unknown, path: string): void => {
    if (value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) return value.forEach((item, index) => unknownFields(item, `${path}/${index}`));
    for (const [key, child] of Object.entries(value)) {
      const known = enumerated.has(value) || read.get(value)?.has(key);
      if (known) unknownFields(child, `${path}/${key}`);
      else problems.push(`${path}/${key} is not a field of ${manifest.kind}`);
    }
  };
  unknownFields(manifest, '');
  return problems;
}

it('refuses a document with a field the Kubernetes API does not know, and a wrong type', () => {
  const service: Manifest = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'probe', labels: { any: 'label' } },
    spec: { ports: [{ port: 80, targetPort: 'http', protocl: 'TCP' }], selector: { app: 'x' } },
  };
  expect(apiProblems(service)).toEqual(['/spec/ports/0/protocl is not a field of Service']);
  expect(apiProblems({ ...service, spec: { ports: [{ port: 'eighty' }] } })).toEqual(['/spec/ports/0/port type {"type":"integer"}']);
});

describe.each(regions)('with values-%s.yaml', (region) => {
  let manifests: Manifest[];
  beforeAll(async () => {
    manifests = await render([overlay(region)]);
  });

  it('passes helm lint --strict', async () => {
    const stdout = await runHelm(['lint', '--strict', chartDir, '-f', overlay(region), '--kube-version', kubeVersion]);
    expect(stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
  });

  it('renders only documents the Kubernetes API schemas accept', () => {
    expect(manifests.length).toBeGreaterThan(30);
    expect(
      manifests.flatMap((manifest) => apiProblems(manifest).map((problem) => `${manifest.kind} ${manifest.metadata.name}: ${problem}`)),
    ).toEqual([]);
  });

  it(`runs every process once per component, in region ${region}`, () => {
    const deployments = ofKind(manifests, 'Deployment');
    expect(deployments.map(component).sort()).toEqual([...components].sort());
    for (const deployment of deployments) {
      expect(deployment.metadata.labels?.['coherence.dev/region']).toBe(region);
      const env = containerEnv(deployment);
      for (const name of ['GATEWAY_REGION', 'INGEST_REGION', 'COMMS_REGION', 'INGEST_DEFAULT_RESIDENCY']) {
        if (env.has(name)) expect(env.get(name), `${component(deployment)} ${name}`).toBe(region);
      }
    }
  });

  it('exposes through the Ingress only the gateway, ingest producer port and comms inbound; every Service is ClusterIP without an admin port', () => {
    const services = ofKind(manifests, 'Service');
    for (const service of services) {
      expect(service.spec.type, service.metadata.name).toBe('ClusterIP');
      for (const port of service.spec.ports) expect(port.targetPort, service.metadata.name).not.toBe('admin');
    }
    const ingresses = ofKind(manifests, 'Ingress');
    expect(ingresses).toHaveLength(1);
    const routes = ingresses[0]!.spec.rules.flatMap((rule: { http: { paths: IngressPath[] } }) =>
      rule.http.paths.map((path) => {
        const service = services.find((candidate) => candidate.metadata.name === path.backend.service.name);
        return `${path.path} → ${service ? component(service) : '(no such Service)'}:${path.backend.service.port.name}`;
      }),
    );
    expect(routes.sort()).toEqual(['/graphql → gateway:http', '/v1/inbound/ → comms:inbound', '/v1/signals → ingest:http']);
  });

  it('runs every container as non-root with a read-only root filesystem and no privilege', () => {
    const pods = [...ofKind(manifests, 'Deployment'), ...ofKind(manifests, 'Job')].map((workload) => ({
      name: workload.metadata.name,
      pod: workload.spec.template.spec,
    }));
    expect(pods).toHaveLength(components.length + 1);
    for (const { name, pod } of pods) {
      expect(pod.securityContext.runAsNonRoot, name).toBe(true);
      expect(pod.securityContext.runAsUser, name).toBeGreaterThan(0);
      expect(pod.automountServiceAccountToken, name).toBe(false);
      for (const container of pod.containers) {
        expect(container.securityContext, name).toMatchObject({
          runAsNonRoot: true,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        });
        expect(container.resources.requests, name).toBeDefined();
        expect(container.resources.limits, name).toBeDefined();
      }
    }
  });

  it('probes every Deployment on its admin port, listening on all addresses, and scrapes it there', () => {
    for (const deployment of ofKind(manifests, 'Deployment')) {
      const name = component(deployment)!;
      const container = deployment.spec.template.spec.containers[0];
      const adminPort = container.ports.find((port: { name: string }) => port.name === 'admin');
      expect(adminPort?.containerPort, name).toBe(adminPorts[name]);
      expect(container.startupProbe.httpGet, name).toEqual({ path: '/healthz', port: 'admin' });
      expect(container.livenessProbe.httpGet, name).toEqual({ path: '/healthz', port: 'admin' });
      expect(container.readinessProbe.httpGet, name).toEqual({ path: '/readyz', port: 'admin' });
      const env = containerEnv(deployment);
      const adminVariables = [...env].filter(([variable, value]) => variable.endsWith('_ADMIN_PORT') && value === String(adminPorts[name]));
      expect(adminVariables, name).toHaveLength(1);
      expect(env.get(adminVariables[0]![0].replace(/_PORT$/, '_HOST')), name).toBe('0.0.0.0');
      expect(deployment.spec.template.metadata.annotations, name).toMatchObject({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': String(adminPorts[name]),
        'prometheus.io/path': '/metrics',
      });
    }
  });

  it('gives each process its own database URL from its own key of the existing Secret', () => {
    const databaseKeys = new Map<string, string[]>();
    for (const deployment of ofKind(manifests, 'Deployment')) {
      const urls = containerEnvSources(deployment).filter((entry) => entry.name.endsWith('_DATABASE_URL'));
      for (const url of urls) expect(url.valueFrom?.secretKeyRef?.name).toBe(`coherence-${region}`);
      databaseKeys.set(
        component(deployment)!,
        urls.map((url) => url.valueFrom!.secretKeyRef!.key),
      );
    }
    // One role per process (ADR 0015); ingest's consumer and comms' worker are the same service's roles. Comms also
    // writes as comms_admin for the tenant-admin API (ADR 0031), with a pool of its own.
    expect(Object.fromEntries(databaseKeys)).toEqual({
      gateway: ['gateway-database-url'],
      ingest: ['ingest-database-url'],
      'ingest-consumer': ['ingest-database-url'],
      coherence: ['coherence-database-url'],
      relay: ['relay-database-url'],
      comms: ['comms-database-url', 'comms-admin-database-url'],
      'comms-worker': ['comms-database-url'],
    });
    expect(ofKind(manifests, 'Secret')).toEqual([]);
  });

  it('migrates before install and upgrade with npm run migrate', () => {
    const [job] = ofKind(manifests, 'Job');
    expect(job?.metadata.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    expect(job?.spec.template.spec.containers[0].command.slice(0, 3)).toEqual(['npm', 'run', 'migrate']);
  });

  it('autoscales the gateway and ingest, and keeps every component under a disruption budget', () => {
    expect(ofKind(manifests, 'HorizontalPodAutoscaler').map((hpa) => hpa.spec.scaleTargetRef.name)).toEqual([
      'coherence-gateway',
      'coherence-ingest',
    ]);
    expect(ofKind(manifests, 'PodDisruptionBudget').map(component).sort()).toEqual([...components].sort());
  });

  it('has a NetworkPolicy for every component behind a default deny, admitting only the gateway to the subgraphs', () => {
    const policies = ofKind(manifests, 'NetworkPolicy');
    const deny = policies.find((policy) => component(policy) === 'network');
    expect(deny?.spec).toMatchObject({ policyTypes: ['Ingress', 'Egress'] });
    expect(deny?.spec.ingress).toBeUndefined();
    expect(deny?.spec.egress).toBeUndefined();
    const byComponent = new Map(policies.map((policy) => [policy.spec.podSelector.matchLabels['app.kubernetes.io/component'], policy]));
    for (const name of [...components, 'migrate']) expect(byComponent.get(name)?.spec.policyTypes, name).toEqual(['Ingress', 'Egress']);
    const peersOf = (name: string, port: string) =>
      byComponent
        .get(name)!
        .spec.ingress.filter((rule: { ports: { port: string }[] }) => rule.ports.some((entry) => entry.port === port))
        .flatMap((rule: { from: unknown[] }) => rule.from);
    for (const subgraph of ['ingest', 'coherence', 'comms']) {
      expect(peersOf(subgraph, 'graphql'), subgraph).toEqual([
        { podSelector: { matchLabels: expect.objectContaining({ 'app.kubernetes.io/component': 'gateway' }) } },
      ]);
    }
    for (const name of components) {
      expect(peersOf(name, 'admin'), name).toContainEqual({
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
      });
    }
    const webhookEgress = byComponent
      .get('comms-worker')!
      .spec.egress.find((rule: { to: { ipBlock?: { cidr: string } }[] }) => rule.to.some((peer) => peer.ipBlock?.cidr === '0.0.0.0/0'));
    expect(webhookEgress.to[0].ipBlock.except).toContain('10.0.0.0/8');
  });
});

/** Where each process's variables are declared (its config schema and the shared fields it spreads in). */
const configSources: Record<string, string[]> = {
  gateway: [
    'gateway/src/config.ts',
    'gateway/src/subscriptions/config.ts',
    'gateway/src/browser/config.ts',
    'packages/flags/src/config.ts',
  ],
  ingest: ['subgraphs/ingest/src/config.ts', 'packages/platform/src/subgraphConfig.ts'],
  'ingest-consumer': ['subgraphs/ingest/src/config.ts'],
  coherence: ['subgraphs/coherence/src/config.ts', 'packages/platform/src/subgraphConfig.ts'],
  relay: ['subgraphs/coherence/src/config.ts'],
  comms: ['subgraphs/comms/src/config.ts', 'packages/platform/src/subgraphConfig.ts'],
  'comms-worker': ['subgraphs/comms/src/config.ts', 'packages/flags/src/config.ts'],
};
/** The values key of each component (values.yaml). */
const valuesKeys: Record<string, string> = {
  gateway: 'gateway',
  ingest: 'ingest',
  'ingest-consumer': 'ingestConsumer',
  coherence: 'coherence',
  relay: 'relay',
  comms: 'comms',
  'comms-worker': 'commsWorker',
};

/** OpenTelemetry's standard variables, which every process's telemetry (and the SDK under it) reads: those it names. */
const telemetryVariables = ['startTelemetry.ts', 'headSampler.ts'].flatMap((file) =>
  [...readFileSync(join(repoRoot, 'packages', 'telemetry', 'src', file), 'utf8').matchAll(/\bOTEL_[A-Z_]+\b/g)].map((match) => match[0]),
);
const COLLECTOR = 'http://otel-collector.observability.svc:4318';

describe('variables', () => {
  const declared = (name: string): Set<string> =>
    new Set([
      ...telemetryVariables,
      ...configSources[name]!.flatMap((file) =>
        [...readFileSync(join(repoRoot, file), 'utf8').matchAll(/^\s*([A-Z][A-Z0-9_]+): /gm)].map((match) => match[1]!),
      ),
    ]);

  it('are only those each process reads: what the chart sets and what values.schema.json lets an operator tune', async () => {
    const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8')) as {
      properties: Record<string, { properties: { env: { propertyNames: { enum: string[] } } } }>;
    };
    const manifests = await render([overlay('eu')], ['--set', `tracing.otlpEndpoint=${COLLECTOR}`]);
    for (const deployment of ofKind(manifests, 'Deployment')) {
      const name = component(deployment)!;
      const known = declared(name);
      // NODE_ENV is Node's own; every process runs in production.
      const set = containerEnvSources(deployment)
        .map((entry) => entry.name)
        .filter((variable) => variable !== 'NODE_ENV');
      expect(
        set.filter((variable) => !known.has(variable)),
        `${name} sets`,
      ).toEqual([]);
      const tunable = schema.properties[valuesKeys[name]!]!.properties.env.propertyNames.enum;
      expect(
        tunable.filter((variable) => !known.has(variable)),
        `${name} tunes`,
      ).toEqual([]);
      expect(
        tunable.filter((variable) => set.includes(variable)),
        `${name} both sets and tunes`,
      ).toEqual([]);
    }
  });
});

describe('tracing', () => {
  const otelVariables = (deployment: Manifest) => [...containerEnv(deployment)].filter(([name]) => name.startsWith('OTEL_'));
  const collectorEgress = (policy: Manifest) =>
    (policy.spec.egress ?? []).filter((rule: { ports: { port: number }[] }) => rule.ports.some((entry) => entry.port === 4318));

  it('is off by default: no process is told where to export spans, and no pod may reach a collector', async () => {
    const manifests = await render([overlay('us')]);
    for (const deployment of ofKind(manifests, 'Deployment')) expect(otelVariables(deployment), component(deployment)).toEqual([]);
    for (const policy of ofKind(manifests, 'NetworkPolicy')) expect(collectorEgress(policy), policy.metadata.name).toEqual([]);
  });

  it("exports every process's spans to the collector given, at the ratio given, naming the region, and admits that egress", async () => {
    const manifests = await render(
      [overlay('eu')],
      ['--set', `tracing.otlpEndpoint=${COLLECTOR}`, '--set-json', 'tracing.samplingRatio=0.05'],
    );
    expect(manifests.flatMap((manifest) => apiProblems(manifest))).toEqual([]);
    const deployments = ofKind(manifests, 'Deployment');
    expect(deployments).toHaveLength(components.length);
    for (const deployment of deployments) {
      expect(Object.fromEntries(otelVariables(deployment)), component(deployment)).toEqual({
        OTEL_EXPORTER_OTLP_ENDPOINT: COLLECTOR,
        OTEL_TRACES_SAMPLER_ARG: '0.05',
        OTEL_RESOURCE_ATTRIBUTES: 'cloud.region=eu',
      });
    }
    const egressOf = new Map(ofKind(manifests, 'NetworkPolicy').map((policy) => [component(policy), collectorEgress(policy)]));
    for (const name of components)
      expect(egressOf.get(name), name).toEqual([{ ports: [{ port: 4318, protocol: 'TCP' }], to: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }]);
    // The migration job traces nothing.
    expect(egressOf.get('migrate')).toEqual([]);
  });
});

describe('published artifacts', () => {
  it('become ConfigMaps mounted where the processes read them, and roll the pods when they change', async () => {
    const wasm = readFileSync(join(repoRoot, 'policy', 'bundle', 'policy.wasm'));
    const wasmBase64 = join(scratch, 'policy.wasm.b64');
    writeFileSync(wasmBase64, wasm.toString('base64'));
    const setFiles = (manifestFile: string): string[] =>
      [
        `artifacts.manifest.manifest=${manifestFile}`,
        'artifacts.manifest.costs=persisted-queries/costs.json',
        'artifacts.manifest.signatures=persisted-queries/.signatures.json',
        `artifacts.policyBundle.policyWasmBase64=${wasmBase64}`,
        'artifacts.policyBundle.data=policy/bundle/data.json',
        'artifacts.policyBundle.manifest=policy/bundle/manifest.json',
        'artifacts.policyBundle.signatures=policy/bundle/.signatures.json',
      ].flatMap((value) => ['--set-file', value]);
    const manifests = await render([overlay('us')], setFiles('persisted-queries/manifest.json'));
    expect(manifests.flatMap(apiProblems)).toEqual([]);

    const configMaps = new Map(ofKind(manifests, 'ConfigMap').map((configMap) => [configMap.metadata.name, configMap]));
    expect(configMaps.get('coherence-manifest')?.data?.['manifest.json']).toBe(
      readFileSync(join(repoRoot, 'persisted-queries', 'manifest.json'), 'utf8'),
    );
    expect(Buffer.from(configMaps.get('coherence-policy-bundle')!.binaryData!['policy.wasm']!, 'base64').equals(wasm)).toBe(true);
    expect(configMaps.has('coherence-comms-policy-bundle')).toBe(false);

    const gateway = ofKind(manifests, 'Deployment').find((deployment) => component(deployment) === 'gateway')!;
    expect(containerEnv(gateway).get('GATEWAY_MANIFEST_PATH')).toBe('/etc/coherence/manifest/manifest.json');
    expect(containerEnv(gateway).get('GATEWAY_POLICY_BUNDLE_DIR')).toBe('/etc/coherence/policy-bundle');
    const mounts = gateway.spec.template.spec.containers[0].volumeMounts.map((mount: { mountPath: string }) => mount.mountPath);
    expect(mounts).toEqual(expect.arrayContaining(['/etc/coherence/manifest', '/etc/coherence/policy-bundle']));

    const otherManifest = join(scratch, 'manifest.json');
    writeFileSync(otherManifest, '{"format":"apollo-persisted-query-manifest","version":1,"operations":[]}');
    const republished = await render([overlay('us')], setFiles(otherManifest));
    const checksum = (rendered: Manifest[], name: string) =>
      ofKind(rendered, 'Deployment').find((deployment) => component(deployment) === name)!.spec.template.metadata.annotations[
        'checksum/artifacts'
      ];
    expect(checksum(republished, 'gateway')).not.toBe(checksum(manifests, 'gateway'));
    expect(checksum(republished, 'ingest')).toBe(checksum(manifests, 'ingest'));
  });
});

describe('values that violate the schema', () => {
  const invalidValues = `
gateway:
  replicas: 0
  env:
    GATEWAY_RATE_PER_SECONDS: '10'
networkPolicy:
  egress:
    postgres: { ports: [5432], cidrs: [postgres.internal] }
auth:
  jwksUrl: http://idp.example.com/jwks.json
tracing:
  otlpEndpoint: otel-collector:4318
  samplingRatio: 1.5
`;
  let valuesFile: string;
  beforeAll(() => {
    valuesFile = join(scratch, 'invalid.yaml');
    writeFileSync(valuesFile, invalidValues);
  });

  it.each([
    ['lint', ['lint', '--strict', chartDir, '-f', overlay('us')]],
    ['template', ['template', 'coherence', chartDir, '--kube-version', kubeVersion, '-f', overlay('us')]],
  ])('are refused by helm %s, naming each', async (_command, args) => {
    const failure = await runHelm([...args, '-f', valuesFile]).then(
      () => undefined,
      (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ''}${error.stderr ?? ''}`,
    );
    expect(failure).toBeDefined();
    for (const path of [
      '/gateway/replicas',
      'GATEWAY_RATE_PER_SECONDS',
      '/networkPolicy/egress/postgres/cidrs/0',
      '/auth/jwksUrl',
      '/tracing/otlpEndpoint',
      '/tracing/samplingRatio',
    ]) {
      expect(failure).toContain(path);
    }
  });
});

describe('Containerfile', () => {
  it('parses and lints clean, one image whose command picks the process', () => {
    const containerfile = readFileSync(join(repoRoot, 'Containerfile'), 'utf8');
    expect(validateDockerfile(containerfile)).toEqual([]);
    expect(containerfile).toMatch(/^ENTRYPOINT \["node", "--import", "tsx"\]$/m);
    expect(containerfile).toMatch(/^USER 10001:10001$/m);
    // The linter itself refuses a broken file, so the empty list above means something.
    expect(validateDockerfile('FROM node:20\nCOPY\n').length).toBeGreaterThan(0);
  });
});

interface IngressPath {
  path: string;
  backend: { service: { name: string; port: { name: string } } };
}

interface EnvEntry {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

function containerEnvSources(deployment: Manifest): EnvEntry[] {
  return deployment.spec.template.spec.containers[0].env as EnvEntry[];
}

/** The plain values of a Deployment's container environment. */
function containerEnv(deployment: Manifest): Map<string, string | undefined> {
  return new Map(containerEnvSources(deployment).map((entry) => [entry.name, entry.value]));
}
