import { createClient } from 'graphql-ws';
import type { CoherenceScore } from './operations';
import { persistedIdOf } from './operations';

export type LiveState = 'connecting' | 'live' | 'reconnecting';

export interface LiveScoresOptions {
  wsUrl: string;
  token: string;
  tenantId: string;
  onScore: (score: CoherenceScore) => void;
  onState: (state: LiveState) => void;
  /** A refusal on the socket (e.g. FEATURE_DISABLED, FORBIDDEN): the message with its code. */
  onRefused: (message: string) => void;
}

/**
 * `coherenceEvents` over graphql-ws with the persisted id and no text (Apollo's
 * WebSocket link would print the document). The token goes in
 * `connectionParams`, never in the URL. Reconnects for ever, with graphql-ws's
 * randomised exponential backoff; returns the function that stops it.
 *
 * Once stopped, the client's late events are dropped: disposing it still emits
 * `closed`, which would otherwise mark the view "reconnecting" after the
 * subscription that replaced it (same view, new token or a re-run effect) went live.
 */
export function subscribeToScores(options: LiveScoresOptions): () => void {
  let connectedOnce = false;
  let stopped = false;
  const onState = (state: LiveState) => {
    if (!stopped) options.onState(state);
  };
  const onRefused = (message: string) => {
    if (!stopped) options.onRefused(message);
  };
  const client = createClient({
    url: options.wsUrl,
    connectionParams: { authorization: `Bearer ${options.token}` },
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: () => true,
    on: {
      connected: () => {
        connectedOnce = true;
        onState('live');
      },
      closed: () => onState(connectedOnce ? 'reconnecting' : 'connecting'),
    },
  });
  options.onState('connecting');
  const unsubscribe = client.subscribe<{ coherenceEvents: CoherenceScore }>(
    {
      query: '',
      variables: { tenantId: options.tenantId },
      extensions: { persistedQuery: { version: 1, sha256Hash: persistedIdOf('CoherenceEvents') } },
    },
    {
      next: (result) => {
        if (stopped) return;
        if (result.data) options.onScore(result.data.coherenceEvents);
        const error = result.errors?.[0];
        if (error) onRefused(`${error.message} (${String(error.extensions?.['code'] ?? 'ERROR')})`);
      },
      error: (error) => onRefused(refusalText(error)),
      complete: () => undefined,
    },
  );
  return () => {
    stopped = true;
    unsubscribe();
    void client.dispose();
  };
}

function refusalText(error: unknown): string {
  if (Array.isArray(error)) {
    const first = error[0] as { message?: string; extensions?: { code?: string } } | undefined;
    return `${first?.message ?? 'the subscription was refused'} (${first?.extensions?.code ?? 'ERROR'})`;
  }
  if (error instanceof Error) return error.message;
  return 'the live connection failed';
}
