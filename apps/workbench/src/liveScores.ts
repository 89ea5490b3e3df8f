import { createClient } from 'graphql-ws';
import type { CoherenceScore } from './operations';
import { persistedIdOf } from './operations';
import { FINAL_CLOSE_CODES, refusalOfLiveError, type Refusal } from './refusals';

export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'refused';

export interface LiveScoresOptions {
  wsUrl: string;
  token: string;
  tenantId: string;
  onScore: (score: CoherenceScore) => void;
  onState: (state: LiveState) => void;
  /** Why the gateway refused the subscription or the connection; the state is `refused` from then on. */
  onRefused: (refusal: Refusal) => void;
}

/**
 * `coherenceEvents` over graphql-ws with the persisted id and no text (Apollo's
 * WebSocket link would print the document). The token goes in
 * `connectionParams`, never in the URL. Returns the function that stops it.
 *
 * A lost connection is retried for ever with graphql-ws's randomised
 * exponential backoff ("reconnecting"). A refusal is not: a subscribe the
 * gateway refuses (policy, kill switch, a cap) or a connection it closes for
 * good (4401, 4403) would be refused again, so the view shows `refused` and
 * nothing more is sent, except after a refusal that names a delay
 * (`retryAfterSeconds`), when it subscribes once more after that delay.
 *
 * Once stopped or refused, the client's late events are dropped: closing or
 * disposing it still emits `closed`, which would otherwise mark the view
 * "reconnecting" (docs/adr/0030-workbench-app.md).
 */
export function subscribeToScores(options: LiveScoresOptions): () => void {
  let connectedOnce = false;
  let stopped = false;
  let refused = false;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let unsubscribe = () => {};
  const onState = (state: LiveState) => {
    if (!stopped && !refused) options.onState(state);
  };
  const client = createClient({
    url: options.wsUrl,
    connectionParams: { authorization: `Bearer ${options.token}` },
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: (closeOrError) => !FINAL_CLOSE_CODES.has((closeOrError as { code?: number } | null)?.code ?? 0),
    on: {
      connected: () => {
        connectedOnce = true;
        onState('live');
      },
      closed: () => onState(connectedOnce ? 'reconnecting' : 'connecting'),
    },
  });
  const refuse = (refusal: Refusal) => {
    if (stopped) return;
    refused = true;
    options.onState('refused');
    options.onRefused(refusal);
    if (refusal.retryAfterSeconds !== undefined) retryTimer = setTimeout(subscribe, Math.max(1, refusal.retryAfterSeconds) * 1_000);
  };
  function subscribe() {
    refused = false;
    onState('connecting');
    unsubscribe = client.subscribe<{ coherenceEvents: CoherenceScore }>(
      {
        query: '',
        variables: { tenantId: options.tenantId },
        extensions: { persistedQuery: { version: 1, sha256Hash: persistedIdOf('CoherenceEvents') } },
      },
      {
        next: (result) => {
          if (stopped) return;
          if (result.data) options.onScore(result.data.coherenceEvents);
          if (result.errors) refuse(refusalOfLiveError(result.errors) ?? { code: 'ERROR', message: 'the live update failed' });
        },
        // Only a refusal or a final close ends a subscription this client retries for ever.
        error: (error) => refuse(refusalOfLiveError(error) ?? { code: 'NETWORK_ERROR', message: 'the live connection failed' }),
        complete: () => undefined,
      },
    );
  }
  subscribe();
  return () => {
    stopped = true;
    clearTimeout(retryTimer);
    unsubscribe();
    void client.dispose();
  };
}
