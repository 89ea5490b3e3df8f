import { coherenceDashboard, statPanel, timeseriesPanel } from '../panels';
import { aggregate, percentiles, series, sumRate } from '../promql';
import { exported as m } from '../series';

/**
 * The comms command bus and its webhook deliveries. `comms_open_commands` is
 * counted in the database at scrape time, so every worker replica of a region
 * reports the same value: the panels take the `max` per region.
 */
export const comms = () =>
  coherenceDashboard({
    uid: 'coherence-comms',
    title: 'Coherence / Comms',
    description:
      'The comms command bus: commands by state, runs and retries, the troubleshooting queue, delivery latency, the kill switch.',
    rows: [
      {
        title: 'Commands',
        panels: [
          timeseriesPanel({
            title: 'Open commands by state',
            description:
              'Commands pending (waiting for their run time), running (leased by a worker) and in troubleshooting (out of attempts, waiting for an operator), per region.',
            unit: 'short',
            queries: [{ expr: `${aggregate('max', ['region', 'state'])}(${series(m.commsOpenCommands)})`, legend: '{{state}} {{region}}' }],
          }),
          statPanel({
            title: 'Troubleshooting queue depth',
            description:
              'Commands that ran out of attempts and wait for an operator (retry or cancel through the operator API), over the selected regions.',
            unit: 'short',
            thresholds: [
              { from: null, color: 'green' },
              { from: 1, color: 'orange' },
              { from: 50, color: 'red' },
            ],
            queries: [
              {
                expr: `sum(${aggregate('max', ['region'])}(${series(m.commsOpenCommands, 'state="troubleshooting"')}))`,
                legend: 'troubleshooting',
              },
            ],
          }),
          statPanel({
            title: 'Delivery paused',
            description: 'Workers claiming nothing because the comms.notifications kill switch is off (commands wait, none is lost).',
            unit: 'short',
            thresholds: [
              { from: null, color: 'green' },
              { from: 1, color: 'red' },
            ],
            queries: [{ expr: `sum(${series(m.commsDeliveryPaused)})`, legend: 'paused workers' }],
          }),
          timeseriesPanel({
            title: 'Command runs by result',
            description:
              'Command runs finished per second, by result: succeeded, retry (failed, runs again after a backoff), deferred (quiet hours), released (worker stopping), troubleshooting.',
            unit: 'cps',
            stacked: true,
            queries: [{ expr: sumRate(m.commsCommandsFinished, { by: ['result'] }), legend: '{{result}}' }],
          }),
          timeseriesPanel({
            title: 'Retries by command type',
            description: 'Command runs that failed and were scheduled again after a backoff, per second, by command type.',
            unit: 'cps',
            queries: [{ expr: sumRate(m.commsCommandsFinished, { matchers: 'result="retry"', by: ['type'] }), legend: '{{type}}' }],
          }),
        ],
      },
      {
        title: 'Delivery',
        panels: [
          timeseriesPanel({
            title: 'Delivery latency p50 / p95 / p99',
            description:
              'Handler run time of a webhook notification (notify.webhook): SSRF check, quiet hours, the HTTP call to the subscriber.',
            unit: 's',
            width: 24,
            queries: percentiles(m.commsCommandRunSeconds, { matchers: 'type="notify.webhook"' }),
          }),
        ],
      },
    ],
  });
