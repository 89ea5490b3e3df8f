export { createGateway, type GatewayContext } from './createGateway';
export { readGatewayConfig, type GatewayConfig } from './config';
export { gatewayErrorCodes, graphqlErrorBody } from './errors';
export { supergraphPath, subgraphNames } from './supergraph/subgraphs';
