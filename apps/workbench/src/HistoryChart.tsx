import type { CoherenceStatus } from './operations';

export interface HistoryPoint {
  at: number;
  /** Null when the window emptied (UNKNOWN): listed in the table, left out of the line. */
  score: number | null;
  status: CoherenceStatus;
}

const WIDTH = 300;
const HEIGHT = 100;
/** The score axis's ticks, evenly spaced so each sits at its height; 0.75 and 0.5 are the status thresholds (docs/architecture.md, "The score"). */
const SCORE_TICKS = ['1', '0.75', '0.5', '0.25', '0'];

/** SVG points for the scores over time: x spans the first to the last point, y is the score on [0, 1] (1 at the top). */
export function chartPoints(points: readonly HistoryPoint[]): string {
  const scored = points.filter((point): point is HistoryPoint & { score: number } => point.score !== null);
  if (scored.length === 0) return '';
  const y = (score: number) => ((1 - score) * HEIGHT).toFixed(1);
  // One point is a level line across the chart, not an invisible dot.
  if (scored.length === 1) return `0,${y(scored[0]!.score)} ${WIDTH},${y(scored[0]!.score)}`;
  const first = scored[0]!.at;
  const span = Math.max(1, scored[scored.length - 1]!.at - first);
  return scored.map((point) => `${(((point.at - first) / span) * WIDTH).toFixed(1)},${y(point.score)}`).join(' ');
}

/** An instant as the table shows it: UTC to the second. */
export const formatInstant = (at: number) => `${new Date(at).toISOString().slice(0, 19).replace('T', ' ')} UTC`;

/**
 * The time axis's two ends and its title: times only, with the date in the
 * title, when both ends fall on one UTC day (two full instants do not fit
 * side by side at 375 px).
 */
export function timeAxis(first: number, last: number): { from: string; to: string; title: string } {
  const [fromDate, fromTime] = formatInstant(first).split(' ');
  const [toDate, toTime] = formatInstant(last).split(' ');
  if (fromDate === toDate) return { from: fromTime!, to: toTime!, title: `Time (UTC, ${fromDate})` };
  return { from: `${fromDate} ${fromTime}`, to: `${toDate} ${toTime}`, title: 'Time (UTC)' };
}

/**
 * The tenant's score over time, oldest left: the stored history
 * (tenantCoherenceHistory) then each live update. The y axis is the score
 * from 0 to 1 with the status thresholds dashed, the x axis time from the
 * first point to the last. Axis labels are HTML beside the SVG (which is
 * stretched to the width, so its own text would be distorted); the same
 * points are a table for anyone who cannot see the line.
 */
export function HistoryChart({ points }: { points: readonly HistoryPoint[] }) {
  const last = points[points.length - 1];
  const axis = last === undefined ? undefined : timeAxis(points[0]!.at, last.at);
  const summary =
    last === undefined
      ? 'Score history: no changes recorded yet'
      : `Score history: ${points.length} change(s) from ${formatInstant(points[0]!.at)} to ${formatInstant(last.at)}, latest ${last.score === null ? 'no score' : last.score.toFixed(4)}`;
  return (
    <figure className="history" aria-labelledby="history-caption">
      <figcaption id="history-caption">{summary}</figcaption>
      <div className="history-plot">
        <p className="history-axis-title">Score (0–1)</p>
        <div className="history-y" aria-hidden="true">
          {SCORE_TICKS.map((tick) => (
            <span key={tick}>{tick}</span>
          ))}
        </div>
        <svg role="img" aria-label="Score history" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} preserveAspectRatio="none">
          <title>{summary}</title>
          <line className="history-threshold" x1="0" x2={WIDTH} y1={HEIGHT * 0.25} y2={HEIGHT * 0.25} />
          <line className="history-threshold" x1="0" x2={WIDTH} y1={HEIGHT * 0.5} y2={HEIGHT * 0.5} />
          <polyline className="history-line" points={chartPoints(points)} />
        </svg>
        <div className="history-x" aria-hidden="true">
          <span>{axis?.from}</span>
          <span>{axis?.to}</span>
        </div>
        <p className="history-x-title">{axis?.title ?? 'Time (UTC)'}</p>
      </div>
      <details>
        <summary>Score history as a table</summary>
        <div className="scroll">
          <table aria-label="Score history table">
            <thead>
              <tr>
                <th scope="col">Changed at</th>
                <th scope="col">Score</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {[...points].reverse().map((point, index) => (
                <tr key={`${point.at}-${index}`}>
                  <td>{formatInstant(point.at)}</td>
                  <td>{point.score === null ? 'none' : point.score.toFixed(4)}</td>
                  <td>{point.status}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
