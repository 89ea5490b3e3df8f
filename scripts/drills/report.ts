/** The drill report as the operator reads it on stdout (the JSON in reports/ has every number). */
import { describeMachine } from '../bench/support/report';
import { verdict } from '../bench/support/checks';
import type { StatusCounts } from './load';
import type { DrillReport } from './runDrill';

const counts = (of: StatusCounts) =>
  Object.keys(of).length === 0
    ? '-'
    : Object.entries(of)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([status, n]) => `${status}: ${n}`)
        .join(', ');
const ms = (value: number | null) => (value === null ? 'not reached' : `${(value / 1_000).toFixed(1)} s`);
const offset = (value: number | null) => (value === null ? '-' : `${(value / 1_000).toFixed(0)} s`);

export function formatReport(report: DrillReport): string {
  const { reconciliation: r } = report;
  const rows: [string, string][] = [
    ['scenario', `${report.scenario}: ${report.summary}`],
    ['target', `${report.target}; fault held ${ms(report.heldMs)}; ${describeMachine(report.machine)}`],
    [
      'load',
      `${report.rates.http} pushes/s, ${report.rates.kafka} Kafka records/s, ${report.rates.reads} reads/s, ${report.rates.notifications} notifying tenants/s`,
    ],
    ['gateway during fault', counts(report.duringFault.gateway)],
    ['ingest during fault', counts(report.duringFault.ingest)],
    ['kafka during fault', counts(report.duringFault.kafka)],
    [
      '5xx',
      `${report.fiveHundreds.total} (during the fault ${report.fiveHundreds.duringFault}; 503 without Retry-After ${report.fiveHundreds.unavailableWithoutRetryAfter})`,
    ],
    ...Object.entries(report.degraded).map(([label, value]): [string, string] => [`degraded: ${label}`, String(value)]),
    [
      'subscriptions',
      `${report.subscriptions.tenants} tenants, ${report.subscriptions.connections} connections (reconnects ${Math.max(0, report.subscriptions.connections - report.subscriptions.tenants)}), ${report.subscriptions.events} events, ${report.subscriptions.errors} ended with an error`,
    ],
    ['inject took', ms(report.timings.injectMs)],
    ['heal → healthy', ms(report.timings.healToHealthyMs)],
    ['heal → Kafka lag 0', ms(report.timings.healToKafkaLagZeroMs)],
    ['heal → caught up', ms(report.timings.healToCaughtUpMs)],
    [
      'backlog at heal',
      report.backlogAtHeal === null
        ? 'unknown'
        : `outbox ${report.backlogAtHeal.outbox}, kafka lag ${report.backlogAtHeal.kafka}, comms queue ${report.backlogAtHeal.comms}`,
    ],
    [
      'acknowledged',
      `${r.acknowledged.total} signals (${r.acknowledged.http} over HTTP, ${r.acknowledged.kafka} over Kafka), ${r.notifications.expected} notifications`,
    ],
    [
      'lost',
      `${r.lost} (ledger ${r.ledger.acknowledgedMissing}, graph ${r.graph.acknowledgedMissing}, read model ${r.readModel.missing}, ` +
        `notifications ${r.notifications.missing} missing + ${r.notifications.notFinal} not final)`,
    ],
    [
      'duplicated',
      `${r.duplicated} (ledger ${r.ledger.duplicated}, graph ${r.graph.duplicated}, read model ${r.readModel.duplicated}, notifications ${r.notifications.duplicated})`,
    ],
    [
      'counts behind them',
      `ledger ${r.ledger.rows} rows (${r.ledger.storedUnacknowledged} stored but not acknowledged), graph ${r.graph.nodes} signals, ` +
        `read model counts ${r.readModel.counted}, commands ${r.notifications.commands} (${r.notifications.succeeded} succeeded), ` +
        `webhook deliveries ${r.notifications.deliveries} (${r.notifications.redelivered} repeated, same Idempotency-Key)`,
    ],
    [
      'alerts',
      report.alerts.length === 0
        ? `none pending or firing${report.alertPollError ? ` (last poll failed: ${report.alertPollError})` : ''}`
        : report.alerts
            .map(
              (a) =>
                `${a.alert}${a.activeBeforeFault ? ' (active before the fault)' : ''}: pending ${offset(a.pendingAtMs)}, ` +
                `firing ${offset(a.firingAtMs)}, resolved ${offset(a.resolvedAtMs)}`,
            )
            .join('; '),
    ],
    ...Object.entries(report.promises).map(([promise, result]): [string, string] => [
      `promise: ${promise}`,
      `${verdict(result.pass)} (${result.detail})`,
    ]),
    ['result', verdict(report.pass)],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}
