import { createContext, useContext } from 'react';

/** The signed-in token's facts the views need; the token itself lives in memory only (never storage, cookies or URLs). */
export interface Session {
  token: string;
  tenant: string;
  scopes: string[];
}

export interface SessionState {
  session: Session | undefined;
  signIn: (token: string) => void;
  signOut: () => void;
}

export const SessionContext = createContext<SessionState>({ session: undefined, signIn: () => undefined, signOut: () => undefined });

export const useSession = () => useContext(SessionContext);

/** The claims the app shows (tenant, scopes); the gateway verifies the token, the app only reads it. */
export function sessionOf(token: string): Session {
  const payload = token.split('.')[1];
  if (payload === undefined) throw new Error('not a JWT: expected three dot-separated parts');
  const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
  const claims = JSON.parse(json) as { tenant?: unknown; scope?: unknown };
  return {
    token,
    tenant: typeof claims.tenant === 'string' ? claims.tenant : '',
    scopes: typeof claims.scope === 'string' ? claims.scope.split(' ').filter((s) => s !== '') : [],
  };
}
