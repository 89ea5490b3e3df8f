import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { supergraphPath } from '../supergraph/subgraphs';
import { subgraphRootFields } from './subgraphRootFields';

it('reads which root fields of the checked-in supergraph the coherence subgraph serves', () => {
  const supergraph = readFileSync(supergraphPath, 'utf8');
  const coherence = subgraphRootFields(supergraph, 'COHERENCE');
  expect([...coherence].sort()).toEqual([
    'query.signals',
    'query.tenantCoherence',
    'query.tenantCoherenceHistory',
    'subscription.coherenceEvents',
  ]);
  // Operations of other subgraphs (comms' operator mutations) are not coherence operations: the kill switch leaves them alone.
  expect(subgraphRootFields(supergraph, 'COMMS')).toContain('mutation.retryCommand');
});
