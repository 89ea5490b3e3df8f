import { useQuery } from '@apollo/client/react';
import { useCallback, useEffect, useState } from 'react';
import type { WorkbenchConfig } from './config';
import { HistoryChart, type HistoryPoint } from './HistoryChart';
import { subscribeToScores, type LiveState } from './liveScores';
import { documents, type CoherenceHistoryPage, type CoherenceScore } from './operations';
import { messageOf } from './RefusalAlert';
import { describeRefusal, type Refusal } from './refusals';
import { useRetryAfter } from './retryAfter';
import { ScoreGauge } from './ScoreGauge';
import { useSession } from './session';

/** How many stored changes the chart starts from (the API's default page). */
const HISTORY_LIMIT = 100;

const formatWeight = (weight: number | null) =>
  weight === null ? 'not recorded' : weight.toLocaleString('en', { maximumFractionDigits: 4 });

/**
 * One tenant: the score, its sources, agreement and asOf, the score history,
 * live over graphql-ws. One refusal is one alert: the query, the history and
 * the subscription are usually refused for the same reason, and the live
 * status says "refused" with the codes rather than repeating it.
 */
export function TenantView({ tenantId, config }: { tenantId: string; config: WorkbenchConfig }) {
  const { session } = useSession();
  const score = useQuery<{ tenantCoherence: CoherenceScore }>(documents.TenantCoherence, {
    variables: { tenantId },
    fetchPolicy: 'network-only',
  });
  const stored = useQuery<{ tenantCoherenceHistory: CoherenceHistoryPage }>(documents.TenantCoherenceHistory, {
    variables: { tenantId, limit: HISTORY_LIMIT },
    fetchPolicy: 'network-only',
  });
  const { refetch: refetchScore } = score;
  const { refetch: refetchHistory } = stored;
  useRetryAfter(
    score.error,
    useCallback(() => void refetchScore().catch(() => undefined), [refetchScore]),
  );
  useRetryAfter(
    stored.error,
    useCallback(() => void refetchHistory().catch(() => undefined), [refetchHistory]),
  );
  const [live, setLive] = useState<CoherenceScore>();
  const [livePoints, setLivePoints] = useState<HistoryPoint[]>([]);
  const [liveState, setLiveState] = useState<LiveState>('connecting');
  const [liveRefusal, setLiveRefusal] = useState<Refusal>();

  const token = session?.token;
  useEffect(() => {
    if (token === undefined) return undefined;
    setLive(undefined);
    setLivePoints([]);
    setLiveRefusal(undefined);
    return subscribeToScores({
      wsUrl: config.gatewayWsUrl,
      token,
      tenantId,
      onScore: (next) => {
        setLiveRefusal(undefined);
        setLive(next);
        const at = Date.parse(next.updatedAt ?? '') || Date.now();
        setLivePoints((points) => [...points, { at, score: next.score, status: next.status }].slice(-HISTORY_LIMIT));
      },
      onState: setLiveState,
      onRefused: setLiveRefusal,
    });
  }, [config.gatewayWsUrl, token, tenantId]);

  // The stored changes oldest first, then the live ones that came after the newest stored one (a change can be in both).
  const storedPoints: HistoryPoint[] = (stored.data?.tenantCoherenceHistory.points ?? [])
    .map((point) => ({ at: Date.parse(point.changedAt), score: point.score, status: point.status }))
    .reverse();
  const newestStored = storedPoints[storedPoints.length - 1]?.at ?? Number.NEGATIVE_INFINITY;
  const history = [...storedPoints, ...livePoints.filter((point) => point.at > newestStored)];

  const alerts = [
    ...new Set(
      [score.error, stored.error]
        .filter((error) => error !== undefined && error !== null)
        .map(messageOf)
        .concat(liveRefusal === undefined ? [] : [describeRefusal(liveRefusal)]),
    ),
  ];
  const liveCodes = liveRefusal === undefined ? '' : [liveRefusal.code, liveRefusal.reasonCode].filter(Boolean).join(' ');
  const current = live ?? score.data?.tenantCoherence;
  const asOf = live?.asOf ?? score.data?.tenantCoherence.asOf;
  return (
    <section aria-labelledby="tenant-heading">
      <h2 id="tenant-heading">Tenant {tenantId}</h2>
      <p role="status" aria-label="Live updates" className={`live live-${liveState}`}>
        {liveState === 'refused' && liveCodes !== '' ? `refused (${liveCodes})` : liveState}
      </p>
      {alerts.map((alert) => (
        <p key={alert} role="alert" className="alert">
          {alert}
        </p>
      ))}
      {current === undefined ? null : (
        <>
          <ScoreGauge score={current.score} status={current.status} />
          <dl className="facts">
            <dt>Agreement</dt>
            <dd>{current.agreement === null ? 'none' : current.agreement.toFixed(4)}</dd>
            <dt>As of</dt>
            <dd>{asOf ?? 'not scored yet'}</dd>
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
                <th scope="col">Weight</th>
                <th scope="col">Count</th>
              </tr>
            </thead>
            <tbody>
              {current.sources.map((source) => (
                <tr key={source.source}>
                  <th scope="row">{source.source}</th>
                  <td>{source.score.toFixed(4)}</td>
                  <td>{formatWeight(source.weight)}</td>
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
