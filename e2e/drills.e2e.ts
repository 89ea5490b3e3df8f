import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDrillApplication, type DrillApplication } from '../scripts/drills/application';
import { runDrill } from '../scripts/drills/runDrill';
import { scenarios } from '../scripts/drills/scenarios';

/**
 * Short versions of every drill of `npm run drill` (docs/runbooks/drills.md):
 * one application for all of them, the drill's own (its own servers, every
 * process its own OS process: the servers of the global setup are shared with
 * the other test files and must not be faulted), each scenario held 20 s
 * under the default load, then reconciled. The full versions are run by hand.
 */
const HELD_MS = 20_000;
const log = (line: string) => process.stderr.write(`[drills] ${line}\n`);
let app: DrillApplication;

beforeAll(async () => {
  app = await startDrillApplication({ log });
}, 600_000);

afterAll(async () => {
  await app?.stop();
}, 300_000);

it.each(scenarios.map((scenario) => [scenario.name, scenario] as const))(
  '%s: loses and duplicates nothing acknowledged, and keeps every promise',
  async (_name, scenario) => {
    const report = await runDrill(app, scenario, { durationMs: HELD_MS, warmUpMs: 3_000, log });
    log(
      `${scenario.name}: heal → healthy ${report.timings.healToHealthyMs} ms, → Kafka lag 0 ${report.timings.healToKafkaLagZeroMs} ms, → caught up ${report.timings.healToCaughtUpMs} ms; ` +
        `${JSON.stringify(report.degraded)}; gateway during the fault ${JSON.stringify(report.duringFault.gateway)}`,
    );
    const { reconciliation } = report;
    // The load ran on every path, so the zeros below are about something.
    expect(reconciliation.acknowledged.http).toBeGreaterThan(0);
    expect(reconciliation.acknowledged.kafka).toBeGreaterThan(0);
    expect(reconciliation.notifications.expected).toBeGreaterThan(0);
    expect(reconciliation.ledger.rows).toBeGreaterThanOrEqual(reconciliation.acknowledged.total);
    expect({ lost: reconciliation.lost, duplicated: reconciliation.duplicated }).toEqual({ lost: 0, duplicated: 0 });
    expect(Object.entries(report.promises).filter(([, result]) => !result.pass)).toEqual([]);
  },
  900_000,
);
