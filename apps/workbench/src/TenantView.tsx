import { useQuery } from '@apollo/client/react';
import { useCallback, useEffect, useState } from 'react';
import type { WorkbenchConfig } from './config';
import { HistoryChart, type HistoryPoint } from './HistoryChart';
import { subscribeToScores, type LiveState } from './liveScores';
import { documents, type CoherenceScore } from './operations';
import { RefusalAlert } from './RefusalAlert';
import { useRetryAfter } from './retryAfter';
import { ScoreGauge } from './ScoreGauge';
import { useSession } from './session';

const HISTORY_LIMIT = 200;

/** One tenant: the score, its sources, agreement, asOf, the scores seen so far, live over graphql-ws. */
export function TenantView({ tenantId, config }: { tenantId: string; config: WorkbenchConfig }) {
  const { session } = useSession();
  const { data, error, refetch } = useQuery<{ tenantCoherence: CoherenceScore }>(documents.TenantCoherence, {
    variables: { tenantId },
    fetchPolicy: 'network-only',
  });
  useRetryAfter(
    error,
    useCallback(() => void refetch().catch(() => undefined), [refetch]),
  );
  const [live, setLive] = useState<CoherenceScore>();
  const [liveState, setLiveState] = useState<LiveState>('connecting');
  const [liveRefusal, setLiveRefusal] = useState<string>();
  const [history, setHistory] = useState<HistoryPoint[]>([]);

  const record = useCallback((score: CoherenceScore) => {
    if (score.score === null) return;
    const point = { at: Date.parse(score.updatedAt ?? '') || Date.now(), score: score.score };
    setHistory((points) => [...points, point].slice(-HISTORY_LIMIT));
  }, []);

  useEffect(() => {
    if (data) record(data.tenantCoherence);
  }, [data, record]);

  const token = session?.token;
  useEffect(() => {
    if (token === undefined) return undefined;
    setLive(undefined);
    setHistory([]);
    return subscribeToScores({
      wsUrl: config.gatewayWsUrl,
      token,
      tenantId,
      onScore: (score) => {
        setLiveRefusal(undefined);
        setLive(score);
        record(score);
      },
      onState: setLiveState,
      onRefused: setLiveRefusal,
    });
  }, [config.gatewayWsUrl, token, tenantId, record]);

  const current = live ?? data?.tenantCoherence;
  return (
    <section aria-labelledby="tenant-heading">
      <h2 id="tenant-heading">Tenant {tenantId}</h2>
      <p role="status" aria-label="Live updates" className={`live live-${liveState}`}>
        {liveState}
      </p>
      <RefusalAlert error={error} />
      {liveRefusal === undefined ? null : (
        <p role="alert" className="alert">
          {liveRefusal}
        </p>
      )}
      {current === undefined ? null : (
        <>
          <ScoreGauge score={current.score} status={current.status} />
          <dl className="facts">
            <dt>Agreement</dt>
            <dd>{current.agreement === null ? 'none' : current.agreement.toFixed(4)}</dd>
            <dt>As of</dt>
            <dd>{data?.tenantCoherence.asOf ?? 'not scored yet'}</dd>
            <dt>Window</dt>
            <dd>{current.window}</dd>
            <dt>Updated</dt>
            <dd>{current.updatedAt ?? 'never'}</dd>
          </dl>
          <table aria-label="Sources">
            <thead>
              <tr>
                <th scope="col">Source</th>
                <th scope="col">Mean</th>
                <th scope="col">Count</th>
              </tr>
            </thead>
            <tbody>
              {current.sources.map((source) => (
                <tr key={source.source}>
                  <th scope="row">{source.source}</th>
                  <td>{source.score.toFixed(4)}</td>
                  <td>{source.count}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <HistoryChart points={history} />
        </>
      )}
    </section>
  );
}
