import { InMemoryCache } from '@apollo/client';
import { sortTopLevelDefinitions } from '@apollo/persisted-query-lists';
import { Kind, parse, print, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import type { PersistedOperation } from './manifest';
import { sha256Hex } from './manifest';

// Apollo Client adds `__typename` to every selection set before it sends an
// operation; the manifest must hold exactly the text Apollo Client would run,
// so we let Apollo Client's own cache do that transform.
const cache = new InMemoryCache();

/**
 * The manifest entry for one operation document, normalised exactly as
 * `@apollo/generate-persisted-query-manifest` does (Apollo Client's document
 * transform, top-level definitions sorted, graphql-js printing), so both
 * tools give the same id for the same operation.
 */
export function normalizeOperation(document: DocumentNode): PersistedOperation {
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (!operation?.name) throw new Error('an operation needs a name');
  const body = print(sortTopLevelDefinitions(cache.transformDocument(document)));
  return { id: sha256Hex(body), name: operation.name.value, type: operation.operation, body };
}

export function normalizeOperationText(source: string): PersistedOperation {
  return normalizeOperation(parse(source));
}
