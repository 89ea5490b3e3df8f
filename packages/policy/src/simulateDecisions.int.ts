import { devArtifactPublicKeyPath, devArtifactSigningKeyPath, readArtifactPublicKey, readArtifactSigningKey } from '@coherence/auth';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { ensureOpa, pinnedOpaVersion } from '@coherence/devservices/opa';
import { createLogger, createPgPool, type PgPool } from '@coherence/platform';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { policyInputSchema, type PolicyInput } from './buildPolicyInput';
import { writeSignedPolicyBundle } from './compilePolicyBundle';
import { createDecisionRecorder, type RecordedDecision } from './createDecisionRecorder';
import { goldenAsReplayed, goldenDecisionsSchema, unacknowledgedChanges } from './goldenDecisions';
import { loadPolicyBundle, POLICY_ENTRYPOINT, policyBundleDir, type PolicyBundle } from './loadPolicyBundle';
import { createSimulation, type SimulationReport } from './simulateDecisions';

/**
 * The acceptance of policy simulation (issue 20, item 2): a candidate bundle
 * that tightens one rule, compiled by the real OPA and signed like a
 * release, lists exactly the decisions that rule changes, from the golden
 * set and from decisions recorded in Postgres, and changes nothing.
 *
 * The tightened rule: `troubleshootingQueue` loses its entry in
 * `field_access`, so every request for it is FIELD_NOT_COVERED.
 */
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const TIGHTENED_FIELD = 'troubleshootingQueue';
const golden = goldenDecisionsSchema.parse(JSON.parse(readFileSync(join(repoRoot, 'policy/test/golden-decisions.json'), 'utf8')));
const namesField = (input: unknown) => policyInputSchema.safeParse(input).data?.operation.rootFields.includes(TIGHTENED_FIELD) ?? false;

let work: string;
let candidateDir: string;
let candidate: PolicyBundle;
let live: PolicyBundle;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'coherence-simulate-'));
  const sourceDir = join(work, 'source');
  mkdirSync(join(sourceDir, 'src'), { recursive: true });
  const rego = readFileSync(join(repoRoot, 'policy/src/authz.rego'), 'utf8');
  const rule = `\t"${TIGHTENED_FIELD}": "operate",\n`;
  expect(rego).toContain(rule);
  writeFileSync(join(sourceDir, 'src/authz.rego'), rego.replace(rule, ''));
  writeFileSync(join(sourceDir, 'VERSION'), '1.3.0\n');
  candidateDir = join(work, 'bundle');
  await writeSignedPolicyBundle(
    { dir: sourceDir, source: 'src/authz.rego', entrypoint: POLICY_ENTRYPOINT },
    { opa: await ensureOpa(), opaVersion: pinnedOpaVersion },
    candidateDir,
    readArtifactSigningKey(devArtifactSigningKeyPath),
  );
  const publicKey = readArtifactPublicKey(devArtifactPublicKeyPath);
  candidate = await loadPolicyBundle(candidateDir, publicKey);
  live = await loadPolicyBundle(policyBundleDir, publicKey);
}, 900_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('simulating a bundle that tightens one rule over the golden set', () => {
  it('lists exactly the golden decisions that name the field, grouped by change and reason', () => {
    const simulation = createSimulation(candidate);
    for (const decision of goldenAsReplayed(golden)) simulation.add(decision);
    const report = simulation.report();

    const expected = golden.decisions.filter((decision) => namesField(decision.input));
    expect(expected.length).toBeGreaterThanOrEqual(3);
    expect(report.replayed).toBe(golden.decisions.length);
    expect(report.changes.map((change) => change.id).sort()).toEqual(expected.map((decision) => decision.name).sort());
    expect(report.changes.every((change) => change.to === 'FIELD_NOT_COVERED')).toBe(true);
    const expectedGroups = new Map<string, number>();
    for (const d of expected) {
      const key = `${d.allow ? 'allow_to_deny' : 'reason'} ${d.reasonCode}`;
      expectedGroups.set(key, (expectedGroups.get(key) ?? 0) + 1);
    }
    expect(expectedGroups.has('allow_to_deny ALLOWED')).toBe(true);
    expect(new Map(report.groups.map((group) => [`${group.kind} ${group.from}`, group.count]))).toEqual(expectedGroups);
    expect(report.truncated).toBe(false);
  });

  it('is refused by the golden check until policy/CHANGES.md lists each change', () => {
    const simulation = createSimulation(candidate);
    for (const decision of goldenAsReplayed(golden)) simulation.add(decision);
    const { changes } = simulation.report();
    const changelog = readFileSync(join(repoRoot, 'policy/CHANGES.md'), 'utf8');
    expect(unacknowledgedChanges(changes, changelog)).toEqual(changes);

    const listed = changes.map((change) => `- \`${change.id}\`: ${change.from} → ${change.to} (operators use commands)`);
    expect(unacknowledgedChanges(changes, `${changelog}\n## 1.3.0\n\n${listed.join('\n')}\n`)).toEqual([]);
    // A line with another outcome does not acknowledge the change.
    const wrong = listed.map((line) => line.replace('→ FIELD_NOT_COVERED', '→ SCOPE_MISSING'));
    expect(unacknowledgedChanges(changes, wrong.join('\n'))).toEqual(changes);
  });
});

describe('npm run policy -- simulate over recorded decisions', () => {
  let database: TestDatabase;
  let adminPool: PgPool;

  beforeAll(async () => {
    database = await createTestDatabase(inject('services'));
    adminPool = createPgPool(database.adminUrl);
  });

  afterAll(async () => {
    await adminPool?.end();
    await database?.drop();
  });

  /** The golden inputs as the live bundle decided them, filed under `tenantId` at `decidedAt`. */
  const recorded = (tenantId: string, decidedAt: Date): RecordedDecision[] =>
    golden.decisions.flatMap(({ input }) => {
      const parsed = policyInputSchema.safeParse(input);
      if (!parsed.success) return [];
      const verdict = live.evaluate(parsed.data);
      return [
        {
          decisionId: randomUUID(),
          tenantId,
          subject: parsed.data.principal.subject,
          clientId: null,
          operationId: parsed.data.operation.id,
          operationType: parsed.data.operation.type,
          allow: verdict.allow,
          reasonCode: verdict.reasonCode,
          explanation: verdict.explanation,
          bundleSha256: live.sha256,
          correlationId: randomUUID(),
          decidedAt: decidedAt.toISOString(),
          input: parsed.data satisfies PolicyInput,
        },
      ];
    });

  it(
    'lists exactly the decisions of the window and tenants asked that the rule changes, and writes nothing',
    { timeout: 180_000 },
    async () => {
      const [mine, other] = [`${database.namespace}-a`, `${database.namespace}-b`];
      const recent = recorded(mine, new Date(Date.now() - 60_000));
      const old = recorded(mine, new Date(Date.now() - 2 * 86_400_000));
      const others = recorded(other, new Date(Date.now() - 60_000));
      const recorder = createDecisionRecorder({
        pool: createPgPool(database.urls.gateway),
        logger: createLogger('test', 'silent'),
        region: 'us',
        flushMs: 60_000,
        batchSize: 10_000,
      });
      for (const decision of [...recent, ...old, ...others]) recorder.record(decision);
      await recorder.close();
      const tableBefore = (await adminPool.query('SELECT * FROM policy_decisions ORDER BY decision_id')).rows;
      expect(tableBefore).toHaveLength(recent.length + old.length + others.length);

      const reportPath = join(work, 'report.json');
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [
          '--import',
          'tsx',
          'scripts/policy.ts',
          'simulate',
          '--bundle',
          candidateDir,
          '--since',
          '24h',
          '--tenant',
          mine,
          '--database-url',
          database.adminUrl,
          '--report',
          reportPath,
        ],
        { cwd: repoRoot, timeout: 150_000 },
      );

      const report = JSON.parse(readFileSync(reportPath, 'utf8')) as SimulationReport & { source: { kind: string } };
      const expected = recent.filter((decision) => namesField(decision.input));
      expect(report.source.kind).toBe('policy_decisions');
      expect(report.replayed).toBe(recent.length);
      expect(report.changes.map((change) => change.id).sort()).toEqual(expected.map((decision) => decision.decisionId).sort());
      expect(report.changes.every((change) => change.tenantId === mine && change.to === 'FIELD_NOT_COVERED')).toBe(true);
      expect(stdout).toContain(`${expected.length} of ${recent.length} decisions would change`);
      expect(stdout).toMatch(/allow → deny {2}ALLOWED → FIELD_NOT_COVERED {2}×\d+/);
      expect((await adminPool.query('SELECT * FROM policy_decisions ORDER BY decision_id')).rows).toEqual(tableBefore);
    },
  );
});
