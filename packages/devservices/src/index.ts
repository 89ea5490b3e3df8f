export {
  startServices,
  devStackPorts,
  type ServiceEndpoints,
  type ServicePorts,
  type RunningServices,
  type RestartableServices,
  type StartServicesOptions,
} from './startServices';
export { startRestartable, type Restartable } from './restartable';
export {
  createTestDatabase,
  adminUrl,
  adminQuery,
  SERVICE_ROLES,
  TEMPLATE_DATABASE,
  type ServiceRole,
  type TestDatabase,
} from './testDatabase';
export { freePort } from './freePort';
export { ServiceStartError } from './services/managedProcess';
export { createUnleashAdmin, unleashClientEnv, type UnleashAdmin, type UnleashEndpoint } from './services/unleashAdmin';
export { startUnleash, devStackUnleashTokenSecrets, type RunningUnleash, type UnleashOptions } from './services/unleash';
export { startPostgres, type RunningPostgres, type PostgresOptions } from './services/postgres';
export { startRedis, type RunningRedis } from './services/redis';
export { startNeo4j, type RunningNeo4j } from './services/neo4j';
export { postgresBinDirPath } from './services/debianPackages';
export { startRoundRobinProxy, type RoundRobinProxy, type RoundRobinProxyOptions } from './roundRobinProxy';
export { startFaultProxy, type FaultProxy, type FaultProxyOptions } from './faultProxy';
