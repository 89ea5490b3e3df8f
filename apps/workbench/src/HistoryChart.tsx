export interface HistoryPoint {
  at: number;
  score: number;
}

const WIDTH = 300;
const HEIGHT = 100;

/** SVG points for the scores over time: x spans the first to the last point, y is the score on [0, 1] (1 at the top). */
export function chartPoints(points: readonly HistoryPoint[]): string {
  if (points.length === 0) return '';
  const first = points[0]!.at;
  const span = Math.max(1, points[points.length - 1]!.at - first);
  return points
    .map((point) => {
      const x = points.length === 1 ? WIDTH : ((point.at - first) / span) * WIDTH;
      return `${x.toFixed(1)},${((1 - point.score) * HEIGHT).toFixed(1)}`;
    })
    .join(' ');
}

/** The scores this page has seen: the first read, then each live update (the API has no score history yet: docs/adr/0030-workbench-app.md). */
export function HistoryChart({ points }: { points: readonly HistoryPoint[] }) {
  const last = points[points.length - 1];
  const label = `Score history: ${points.length} point(s)${last ? `, latest ${last.score.toFixed(4)}` : ''}`;
  return (
    <figure className="history">
      <svg role="img" aria-label="Score history" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} preserveAspectRatio="none">
        <title>{label}</title>
        <line className="history-threshold" x1="0" x2={WIDTH} y1={HEIGHT * 0.25} y2={HEIGHT * 0.25} />
        <line className="history-threshold" x1="0" x2={WIDTH} y1={HEIGHT * 0.5} y2={HEIGHT * 0.5} />
        <polyline className="history-line" points={chartPoints(points)} />
      </svg>
      <figcaption>{label}</figcaption>
    </figure>
  );
}
