import { concatAST } from 'graphql';
import { scoreTypeDefs } from './modules/coherence/schema.graphql';
import { signalsTypeDefs } from './modules/signals/schema.graphql';

/** The coherence subgraph's whole SDL: what it serves and what the supergraph is composed from. */
export const coherenceTypeDefs = concatAST([scoreTypeDefs, signalsTypeDefs]);
