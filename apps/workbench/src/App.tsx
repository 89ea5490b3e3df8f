import { ApolloProvider } from '@apollo/client/react';
import { useMemo, useRef, useState } from 'react';
import { createWorkbenchClient } from './apolloClient';
import type { WorkbenchConfig } from './config';
import { createGatewayFetch } from './gatewayFetch';
import { HomeView } from './HomeView';
import { OperatorView } from './OperatorView';
import { Link, routeOf, usePathname } from './router';
import { SessionContext, sessionOf, type Session } from './session';
import { StatusView } from './StatusView';
import { TenantView } from './TenantView';

export function App({ config, tenants }: { config: WorkbenchConfig; tenants: string[] }) {
  const [session, setSession] = useState<Session>();
  // Read by the HTTP link on each request; held in memory only, so a reload signs out.
  const token = useRef<string>(undefined);
  const client = useMemo(
    () =>
      createWorkbenchClient({
        gatewayUrl: config.gatewayUrl,
        fetch: createGatewayFetch({ fetch: (input, init) => fetch(input, init), now: () => Date.now() }),
        token: () => token.current,
      }),
    [config.gatewayUrl],
  );
  const sessionState = useMemo(
    () => ({
      session,
      signIn: (raw: string) => {
        const next = sessionOf(raw);
        token.current = next.token;
        setSession(next);
      },
      signOut: () => {
        token.current = undefined;
        setSession(undefined);
        void client.clearStore();
      },
    }),
    [session, client],
  );
  const route = routeOf(usePathname());

  return (
    <SessionContext.Provider value={sessionState}>
      <ApolloProvider client={client}>
        <header className="top">
          <h1>Coherence Workbench</h1>
          <nav aria-label="Main">
            <Link to="/">Home</Link>
            {session ? <Link to="/status">Status</Link> : null}
            {session?.scopes.includes('comms:operate') ? <Link to="/operator">Operator</Link> : null}
          </nav>
          {session ? (
            <p className="who">
              {session.tenant} · {session.scopes.join(' ')}{' '}
              <button type="button" onClick={sessionState.signOut}>
                Sign out
              </button>
            </p>
          ) : null}
        </header>
        <main>
          {route.view === 'home' || session === undefined ? <HomeView devSignIn={config.devSignIn} tenants={tenants} /> : null}
          {session && route.view === 'tenant' ? <TenantView key={route.tenantId} tenantId={route.tenantId} config={config} /> : null}
          {session && route.view === 'operator' ? <OperatorView /> : null}
          {session && route.view === 'status' ? <StatusView config={config} /> : null}
          {session && route.view === 'notFound' ? <p role="alert">No such page (NOT_FOUND)</p> : null}
        </main>
      </ApolloProvider>
    </SessionContext.Provider>
  );
}
