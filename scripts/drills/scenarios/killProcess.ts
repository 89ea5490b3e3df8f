import type { ApplicationProcess, Scenario } from '../scenario';

/** Between two kills: the load runs against the restarted process before the next goes. */
const PAUSE_BETWEEN_KILLS_MS = 2_000;

/** How long each process took from SIGKILL to answering /readyz again, in the order killed. */
let restartMs: Partial<Record<ApplicationProcess, number>> = {};

/**
 * kill -9 of every process of the application in turn, each restarted at once
 * as Kubernetes would restart a crashed container: what was acknowledged
 * before a kill must not be lost (ingest commits before it answers 202, the
 * consumer commits offsets after storing, the relay and the comms worker
 * re-claim what the killed one held) nor stored twice.
 */
export const killProcess: Scenario = {
  name: 'kill-process',
  summary:
    'kill -9 of each process in turn (gateway, ingest, ingest-consumer, relay, coherence, comms, comms-worker) under load: ' +
    'restarted by the drill as a supervisor would, 0 lost, 0 duplicated',
  // Requests to a process being killed fail (connection refused or reset, or a 502/503 from the gateway over a
  // killed subgraph); the promise is about data, not availability.
  promises: { no5xx: false },
  defaults: { durationMs: 20_000 },
  needsOwnApplication: true,
  async inject(context) {
    restartMs = {};
    const order: ApplicationProcess[] = ['gateway', 'ingest', 'ingest-consumer', 'relay', 'coherence', 'comms', 'comms-worker'];
    for (const name of order) {
      const killedAt = Date.now();
      await context.processes.killAndRestart(name);
      restartMs[name] = Date.now() - killedAt;
      context.log(`${name} ready again ${restartMs[name]} ms after the kill`);
      await new Promise((resolve) => setTimeout(resolve, PAUSE_BETWEEN_KILLS_MS));
    }
  },
  async observe() {
    return Object.fromEntries(Object.entries(restartMs).map(([name, ms]) => [`${name} kill → ready (ms)`, ms]));
  },
  // Every process is running again once inject returns; there is nothing left to heal.
  async heal() {},
};
