import { Kind, parse, type ConstDirectiveNode, type ObjectTypeDefinitionNode } from 'graphql';

const rootTypes = { Query: 'query', Mutation: 'mutation', Subscription: 'subscription' } as const;

/** The graph a `@join__type` / `@join__field` directive names (the enum value, e.g. COHERENCE). */
function joinGraph(directive: ConstDirectiveNode): string | undefined {
  const graph = directive.arguments?.find((argument) => argument.name.value === 'graph')?.value;
  return graph?.kind === Kind.ENUM ? graph.value : undefined;
}

/**
 * The root fields a subgraph resolves, as `<operation type>.<field>`, read
 * from the supergraph's join directives: a field's own `@join__field(graph:)`,
 * else (a field without one) its root type's `@join__type` graphs. The
 * gateway-hosted `Subscription.coherenceEvents` belongs to COHERENCE this way.
 */
export function subgraphRootFields(supergraphSdl: string, graph: string): ReadonlySet<string> {
  const fields = new Set<string>();
  for (const definition of parse(supergraphSdl).definitions) {
    if (definition.kind !== Kind.OBJECT_TYPE_DEFINITION || !(definition.name.value in rootTypes)) continue;
    const type = definition as ObjectTypeDefinitionNode;
    const operationType = rootTypes[type.name.value as keyof typeof rootTypes];
    const typeGraphs = (type.directives ?? []).filter((d) => d.name.value === 'join__type').map(joinGraph);
    for (const field of type.fields ?? []) {
      const fieldGraphs = (field.directives ?? []).filter((d) => d.name.value === 'join__field').map(joinGraph);
      const owners = fieldGraphs.length > 0 ? fieldGraphs : typeGraphs;
      if (owners.includes(graph)) fields.add(`${operationType}.${field.name.value}`);
    }
  }
  return fields;
}
