import { startTelemetry } from '@coherence/telemetry';

// Tracing starts before anything it instruments is loaded, hence the dynamic
// imports below (docs/adr/0020-traces.md).
await startTelemetry({ serviceName: 'comms-worker' });
const { runService } = await import('@coherence/platform');
const { readCommsWorkerConfig } = await import('../config');
const { createWorkerService } = await import('./createWorkerService');

let startWork: () => Promise<void> = async () => undefined;
await runService({
  name: 'comms-worker',
  readConfig: readCommsWorkerConfig,
  logLevel: (config) => config.LOG_LEVEL,
  listenAdmin: (config) => ({ port: config.COMMS_WORKER_ADMIN_PORT, host: config.COMMS_WORKER_ADMIN_HOST }),
  create: async (config, logger) => {
    const service = await createWorkerService(config, logger);
    startWork = () => service.start();
    return service;
  },
  afterListen: () => void startWork(),
});
