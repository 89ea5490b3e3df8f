/**
 * `npm run drill:killswitch`: the kill-switch drill of docs/runbooks/kill-switch.md.
 * Flips `v24.coherence` off and on again on a real Unleash server, as an
 * operator would (admin API), and polls the gateway with a real
 * `tenantCoherence` read to measure time-to-effect (off → first
 * FEATURE_DISABLED) and time-to-recover (on → first 200). Target: each under
 * 10 s. Prints a summary, writes reports/drill-killswitch.json, exits 1 when
 * a target is missed. The flag is always left on.
 *
 * Without --target it starts its own servers and the application (nothing
 * else is touched); with --target stack it drills the running dev stack
 * (`npm run stack`: gateway :4000, Unleash :4242, the dev key and tokens).
 */
import { ensureDevKeys, mintDevToken, SCOPES } from '@coherence/auth';
import { demoTenants } from '@coherence/fixtures';
import { flagNames } from '@coherence/flags';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import {
  createUnleashAdmin,
  devStackPorts,
  devStackUnleashTokenSecrets,
  unleashClientEnv,
  type UnleashEndpoint,
} from '@coherence/devservices';
import { startApplication } from '../../e2e/support/startApplication';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { verdict } from '../bench/support/checks';
import { usageError, parseScriptArgs } from '../commandLine';
import { repoRoot, writeReport } from '../bench/support/report';
import { withServers } from '../bench/support/servers';

const usage = `usage: npm run drill:killswitch [-- --target stack] [--cycles N] [--poll-ms MS] [--refresh-ms MS]

Flips the kill switch ${flagNames.coherence} off and on on the Unleash server and measures, by polling
the gateway, how long until reads answer FEATURE_DISABLED (time-to-effect) and 200 again
(time-to-recover). Target: each under 10 s. Writes reports/drill-killswitch.json.

  --target stack    drill the running dev stack (npm run stack) instead of starting a fresh one
  --cycles N        off/on cycles (default 3); the worst of each is held against the target
  --poll-ms MS      gateway polling interval (default 100)
  --refresh-ms MS   the gateway's UNLEASH_REFRESH_INTERVAL_MS when the drill starts the app (default 1000,
                    the production default); ignored with --target stack
  -h, --help        this help`;

const values = parseScriptArgs(usage, {
  target: { type: 'string' },
  cycles: { type: 'string', default: '3' },
  'poll-ms': { type: 'string', default: '100' },
  'refresh-ms': { type: 'string', default: '1000' },
});
const cycles = Number(values.cycles);
const pollMs = Number(values['poll-ms']);
const refreshMs = Number(values['refresh-ms']);
if ((values.target !== undefined && values.target !== 'stack') || ![cycles, pollMs, refreshMs].every((n) => Number.isInteger(n) && n > 0))
  usageError(usage);
const TARGET_MS = 10_000;
/** Past this a phase is recorded as failed rather than waited for. */
const GIVE_UP_MS = 60_000;
const tenantCoherenceId = manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id;
const say = (message: string) => console.log(`[drill] ${message}`);

/** What the drill needs of a running application. */
interface DrillTarget {
  gatewayUrl: string;
  unleash: UnleashEndpoint;
  tenantId: string;
  readToken: string;
}

async function readStatus(target: DrillTarget): Promise<{ status: number; code: string | undefined }> {
  const response = await fetch(`${target.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${target.readToken}` },
    body: JSON.stringify({
      extensions: { persistedQuery: { version: 1, sha256Hash: tenantCoherenceId } },
      variables: { tenantId: target.tenantId },
    }),
    signal: AbortSignal.timeout(5_000),
  });
  const body = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
  return { status: response.status, code: body.errors?.[0]?.extensions?.code };
}

/** Flips the flag, then polls until `reached` holds; the time is from just before the admin call. */
async function flipAndMeasure(
  target: DrillTarget,
  enabled: boolean,
  reached: (read: { status: number; code: string | undefined }) => boolean,
) {
  const startedAt = Date.now();
  await createUnleashAdmin(target.unleash).setFlag(flagNames.coherence, enabled);
  let polls = 0;
  while (Date.now() - startedAt < GIVE_UP_MS) {
    polls += 1;
    if (reached(await readStatus(target))) return { ms: Date.now() - startedAt, polls };
    await sleep(pollMs);
  }
  return { ms: undefined, polls };
}

async function drill(target: DrillTarget) {
  const before = await readStatus(target);
  if (before.status !== 200)
    throw new Error(`the gateway does not serve ${target.tenantId} before the drill (${before.status} ${before.code})`);
  const results = [];
  try {
    for (let cycle = 1; cycle <= cycles; cycle += 1) {
      const effect = await flipAndMeasure(target, false, (read) => read.status === 503 && read.code === 'FEATURE_DISABLED');
      const recover = await flipAndMeasure(target, true, (read) => read.status === 200);
      say(`cycle ${cycle}/${cycles}: time-to-effect ${effect.ms ?? '>60000'} ms, time-to-recover ${recover.ms ?? '>60000'} ms`);
      results.push({ cycle, timeToEffectMs: effect.ms ?? null, timeToRecoverMs: recover.ms ?? null });
    }
  } finally {
    // Whatever happened, the product is left on.
    await createUnleashAdmin(target.unleash).setFlag(flagNames.coherence, true);
  }
  return results;
}

async function againstStack(): Promise<{ results: Awaited<ReturnType<typeof drill>>; refreshMs: string }> {
  // The stack's dev key pair (scripts/stack.ts, npm run token): its gateway trusts tokens signed with it.
  const keys = await ensureDevKeys(join(repoRoot, '.data', 'stack', 'keys'));
  const tenantId = demoTenants[0]!.tenantId;
  const readToken = await mintDevToken(keys.privateKeyPath, {
    sub: 'kill-switch-drill',
    tenant: tenantId,
    scopes: [SCOPES.readSelf],
    residency: ['us'],
  });
  const url = `http://127.0.0.1:${devStackPorts.unleash}`;
  const unleash: UnleashEndpoint = {
    url,
    apiUrl: `${url}/api/`,
    adminToken: `*:*.${devStackUnleashTokenSecrets.admin}`,
    clientToken: `default:development.${devStackUnleashTokenSecrets.client}`,
    project: 'default',
    environment: 'development',
  };
  say(`drilling the dev stack (gateway :4000, unleash :${devStackPorts.unleash}, tenant ${tenantId})`);
  return {
    results: await drill({ gatewayUrl: 'http://127.0.0.1:4000', unleash, tenantId, readToken }),
    refreshMs: 'as configured in the stack',
  };
}

async function againstOwnApplication() {
  say('starting the servers (Postgres, Redis, Neo4j, Kafka, Unleash) and the application…');
  return withServers({ tempPrefix: 'coherence-drill-' }, async ({ services, database, defer }) => {
    const app = await startApplication(services.endpoints, database, {
      gatewayEnv: unleashClientEnv(services.endpoints.unleash, refreshMs),
    });
    defer(() => app.stop());
    const tenantId = `${database.namespace}-drill`;
    await app.registerTenant(tenantId);
    const readToken = await app.mintToken({ tenant: tenantId, scopes: [SCOPES.readSelf] });
    return {
      results: await drill({ gatewayUrl: app.gatewayUrl, unleash: services.endpoints.unleash, tenantId, readToken }),
      refreshMs: String(refreshMs),
    };
  });
}

const { results, refreshMs: refresh } = values.target === 'stack' ? await againstStack() : await againstOwnApplication();
const worst = (key: 'timeToEffectMs' | 'timeToRecoverMs') =>
  results.some((r) => r[key] === null) ? null : Math.max(...results.map((r) => r[key] as number));
const worstEffect = worst('timeToEffectMs');
const worstRecover = worst('timeToRecoverMs');
const pass = worstEffect !== null && worstRecover !== null && worstEffect < TARGET_MS && worstRecover < TARGET_MS;
const report = {
  drill: 'drill:killswitch',
  flag: flagNames.coherence,
  measuredAt: new Date().toISOString(),
  target: values.target === 'stack' ? 'dev stack' : 'fresh application',
  gatewayUnleashRefreshMs: refresh,
  pollMs,
  cycles: results,
  worstTimeToEffectMs: worstEffect,
  worstTimeToRecoverMs: worstRecover,
  targetMs: TARGET_MS,
  pass,
};
const reportPath = writeReport('drill-killswitch.json', report);
say(
  `worst time-to-effect ${worstEffect ?? '>60000'} ms, worst time-to-recover ${worstRecover ?? '>60000'} ms ` +
    `(target < ${TARGET_MS} ms each): ${verdict(pass)}; report: ${reportPath}`,
);
process.exit(pass ? 0 : 1);
