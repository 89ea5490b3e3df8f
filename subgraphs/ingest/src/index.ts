export { statsTypeDefs as ingestTypeDefs } from './modules/stats/schema.graphql';
export { createIngestService } from './createIngestService';
export { readIngestConfig, readIngestConsumerConfig, type IngestConfig, type IngestConsumerConfig } from './config';
export { createConsumerService } from './consumer/createConsumerService';
export { ingestErrorCodes } from './errors';
