import { fileURLToPath } from 'node:url';

export { coherenceTypeDefs } from './modules/coherence/schema.graphql';
export { computeCoherence, aggregateBySource, statusOf, type SourceAggregate, type Coherence } from './modules/coherence/computeCoherence';
export { createCoherenceService } from './createCoherenceService';
export { createRelayService } from './relay/createRelayService';
export { createOutboxRelay, type OutboxRelay } from './relay/createOutboxRelay';
export { createNeo4jDriver, ensureGraphSchema } from './graph/signalGraph';
export { readCoherenceConfig, readRelayConfig, type CoherenceConfig, type RelayConfig } from './config';

/** SQL migrations owned by coherence (the read model); run after ingest's. */
export const coherenceMigrationsDir = fileURLToPath(new URL('../migrations', import.meta.url));
