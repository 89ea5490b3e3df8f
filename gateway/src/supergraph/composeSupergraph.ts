import { composeServices } from '@apollo/composition';
import { coherenceTypeDefs } from '@coherence/coherence';
import { commsTypeDefs } from '@coherence/comms';
import { ingestTypeDefs } from '@coherence/ingest';
import { subgraphNames } from './subgraphs';

const typeDefsByName = { coherence: coherenceTypeDefs, ingest: ingestTypeDefs, comms: commsTypeDefs };

/**
 * Composes the subgraphs' SDL into the supergraph SDL, or throws every
 * composition error. The URLs written into it are placeholders; the gateway
 * replaces them with its configured ones.
 */
export function composeSupergraph(): string {
  const result = composeServices(
    subgraphNames.map((name) => ({ name, typeDefs: typeDefsByName[name], url: `http://${name}.subgraph.invalid/graphql` })),
  );
  if (result.errors) throw new Error(`supergraph composition failed:\n${result.errors.map((e) => `  - ${e.message}`).join('\n')}`);
  return result.supergraphSdl;
}
