/**
 * The servers a drill runs the application against. This build starts them
 * with `startServices` and cannot fault them yet: every control throws. The
 * fault proxies and restartable servers replace it (docs/adr/0023-drills.md).
 */
import { startServices, type ServiceEndpoints } from '@coherence/devservices';
import type { DependencyControls } from './scenario';

const notWired = async (): Promise<never> => {
  throw new Error('dependency faults are not wired in this build');
};
const stoppable = { stop: notWired, start: notWired };

export async function startFaultableServices(options: {
  rootDir: string;
  unleashFlags: Readonly<Record<string, boolean>>;
}): Promise<{ endpoints: ServiceEndpoints; controls: DependencyControls; stop(): Promise<void> }> {
  const services = await startServices({ rootDir: options.rootDir, unleashFlags: options.unleashFlags });
  const controls: DependencyControls = {
    redis: stoppable,
    neo4j: stoppable,
    kafka: stoppable,
    unleash: stoppable,
    postgresPrimary: { restart: notWired },
    postgresReplica: { ...stoppable, pauseReplay: notWired, resumeReplay: notWired },
  };
  return { endpoints: services.endpoints, controls, stop: () => services.stop() };
}
