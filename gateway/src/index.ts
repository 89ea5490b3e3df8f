export { createGateway } from './createGateway';
export type { GatewayContext } from './execution/createOperationExecutor';
export { readGatewayConfig, type GatewayConfig } from './config';
export { gatewayErrorCodes, graphqlErrorBody } from './errors';
export { supergraphPath, subgraphNames } from './supergraph/subgraphs';
