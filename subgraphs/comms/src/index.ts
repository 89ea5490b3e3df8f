import { fileURLToPath } from 'node:url';

export { alertsTypeDefs as commsTypeDefs } from './modules/alerts/schema.graphql';
export { createCommsService } from './createCommsService';
export { readCommsConfig, type CommsConfig } from './config';

/** SQL migrations owned by comms; run after ingest's (which creates the roles). */
export const commsMigrationsDir = fileURLToPath(new URL('../migrations', import.meta.url));
