/**
 * `npm run bench:policy`: what authorization costs.
 *
 * 1. One policy decision in-process, through the engine the gateway uses
 *    (Wasm evaluation plus the result check), over the inputs of the
 *    allow/deny matrix: p50/p99/max, in reports/bench-policy.json. Fails when
 *    p99 is over 0.2 ms.
 * 2. With `-- --gateway`: the whole application on real servers (started and
 *    stopped here, on free ports), sequential allowed reads through the
 *    gateway. The gateway times the steps before execution (token, operation
 *    lookup, tenant residency, policy, decision queueing) in
 *    `gateway_request_security_seconds`; the report is the request time with
 *    those steps over the request time without them, as a ratio.
 */
import { devArtifactPublicKeyPath, readArtifactPublicKey } from '@coherence/auth';
import { createPolicyEngine, policyBundleDir, type PolicyInput } from '@coherence/policy';
import { createLogger } from '@coherence/platform';
import { startApplication } from '../../e2e/support/startApplication';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { parseScriptArgs } from '../commandLine';
import { repoRoot, watchMachine, writeReport } from './support/report';
import { withServers } from './support/servers';

const TARGET_P99_MS = 0.2;
const usage = `usage: npm run bench:policy [-- --gateway] [--requests N]
  --gateway      also time authentication + policy in the whole application (starts its own servers)
  --requests N   sequential allowed reads through the gateway with --gateway (default 1000)`;
const values = parseScriptArgs(usage, { gateway: { type: 'boolean' }, requests: { type: 'string' } });
const machine = watchMachine();

const quantiles = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: at(0.5), p99: at(0.99), max: at(1) };
};
const micros = (ms: number) => `${(ms * 1_000).toFixed(1)} µs`;

async function benchDecisions(): Promise<boolean> {
  const matrixPath = join(repoRoot, 'policy', 'test', 'matrix.json');
  const matrix = JSON.parse(readFileSync(matrixPath, 'utf8')) as { authz_matrix: { cases: { input: PolicyInput }[] } };
  const inputs = matrix.authz_matrix.cases.map((c) => c.input);
  const engine = createPolicyEngine({
    logger: createLogger('bench', 'silent'),
    publicKey: readArtifactPublicKey(devArtifactPublicKeyPath),
    allowRollback: false,
  });
  const activated = await engine.activate(policyBundleDir);
  if (!activated.ok) throw new Error(`the committed bundle does not load: ${activated.error}`);
  for (let round = 0; round < 200; round += 1) for (const input of inputs) engine.decide(input);
  const samplesMs: number[] = [];
  for (let round = 0; round < 2_000; round += 1) {
    for (const input of inputs) {
      const startedAt = performance.now();
      engine.decide(input);
      samplesMs.push(performance.now() - startedAt);
    }
  }
  const { p50, p99, max } = quantiles(samplesMs);
  console.log(
    `policy decision in-process (${samplesMs.length} samples, bundle ${activated.sha256.slice(0, 12)}): p50 ${micros(p50)}, p99 ${micros(p99)}, max ${micros(max)}`,
  );
  if (p99 > TARGET_P99_MS) console.error(`p99 is over the ${TARGET_P99_MS} ms target`);
  writeReport('bench-policy.json', {
    when: new Date().toISOString(),
    machine: machine.report(),
    decisionMs: { samples: samplesMs.length, p50, p99, max },
    target: { p99AtMostMs: TARGET_P99_MS },
    passed: p99 <= TARGET_P99_MS,
  });
  return p99 <= TARGET_P99_MS;
}

/** Sum of a Prometheus histogram's `_sum` series for one metric (and label filter) in the text format. */
function histogramSum(metrics: string, name: string, labelFilter = ''): number {
  return metrics
    .split('\n')
    .filter((line) => line.startsWith(`${name}_sum`) && line.includes(labelFilter))
    .reduce((total, line) => total + Number(line.split(' ').at(-1)), 0);
}

async function benchGateway(requests: number): Promise<void> {
  await withServers({ tempPrefix: 'coherence-bench-' }, async ({ services, database, defer }) => {
    const app = await startApplication(services.endpoints, database);
    defer(() => app.stop());
    const tenantId = `${database.namespace}-bench`;
    const headers = { 'content-type': 'application/json', ...(await app.readHeaders(tenantId)) };
    const id = manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id;
    const body = JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: id } }, variables: { tenantId } });
    const read = async () => {
      const response = await fetch(`${app.gatewayUrl}/graphql`, { method: 'POST', headers, body });
      if (response.status !== 200) throw new Error(`gateway answered ${response.status}: ${await response.text()}`);
      await response.arrayBuffer();
    };
    for (let i = 0; i < 100; i += 1) await read();
    const before = await (await fetch(`${app.adminUrls.gateway}/metrics`)).text();
    for (let i = 0; i < requests; i += 1) await read();
    const after = await (await fetch(`${app.adminUrls.gateway}/metrics`)).text();
    const route = 'route="/graphql"';
    const totalSeconds =
      histogramSum(after, 'http_request_duration_seconds', route) - histogramSum(before, 'http_request_duration_seconds', route);
    const securitySeconds =
      histogramSum(after, 'gateway_request_security_seconds') - histogramSum(before, 'gateway_request_security_seconds');
    const perRequestMs = (seconds: number) => ((seconds / requests) * 1_000).toFixed(3);
    console.log(
      `gateway, ${requests} allowed reads: ${perRequestMs(totalSeconds)} ms per request, of which ${perRequestMs(securitySeconds)} ms ` +
        `authentication + policy; overhead ratio with/without ${(totalSeconds / (totalSeconds - securitySeconds)).toFixed(3)}`,
    );
  });
}

const withinTarget = await benchDecisions();
if (values.gateway) await benchGateway(Number(values.requests ?? 1_000));
process.exit(withinTarget ? 0 : 1);
