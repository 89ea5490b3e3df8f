import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { generatePersistedQueryIdsFromManifest } from '@apollo/persisted-query-lists';
import { persistedManifest } from './operations';

export interface WorkbenchClientOptions {
  gatewayUrl: string;
  /** The refusal-aware fetch (gatewayFetch.ts). */
  fetch: typeof fetch;
  /** The signed-in token, read on every request (it lives in memory only). */
  token: () => string | undefined;
}

/**
 * Apollo over HTTP with persisted ids only: the ids come from the pq manifest
 * (without its text), and the link never retries with the query text, which
 * the gateway would refuse anyway (docs/adr/0030-workbench-app.md).
 */
export function createWorkbenchClient(options: WorkbenchClientOptions) {
  const persisted = new PersistedQueryLink({
    ...generatePersistedQueryIdsFromManifest({ loadManifest: () => persistedManifest }),
    retry: () => false,
  });
  const http = new HttpLink({
    uri: `${options.gatewayUrl}/graphql`,
    fetch: (input, init) => {
      const headers = new Headers(init?.headers);
      const token = options.token();
      if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
      return options.fetch(input, { ...init, headers });
    },
  });
  return new ApolloClient({ link: persisted.concat(http), cache: new InMemoryCache() });
}
