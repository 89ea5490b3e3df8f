import { fileURLToPath } from 'node:url';

/** The checked-in supergraph the gateway runs; `npm run supergraph:check` keeps it in step with the subgraphs. */
export const supergraphPath = fileURLToPath(new URL('../../supergraph.graphql', import.meta.url));

export const subgraphNames = ['coherence', 'ingest', 'comms'] as const;
export type SubgraphName = (typeof subgraphNames)[number];
