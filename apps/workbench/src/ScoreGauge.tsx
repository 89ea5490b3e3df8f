import type { CoherenceStatus } from './operations';

const format = (value: number | null) => (value === null ? 'no score' : value.toFixed(4));

/** The score on [0, 1] as a bar coloured by status; the colour is never the only cue (the status is written next to it). */
export function ScoreGauge({ score, status }: { score: number | null; status: CoherenceStatus }) {
  const width = Math.round((score ?? 0) * 100);
  return (
    <div className="gauge">
      <div
        role="meter"
        aria-label="Coherence score"
        aria-valuemin={0}
        aria-valuemax={1}
        aria-valuenow={score ?? 0}
        aria-valuetext={`${format(score)}, ${status}`}
        data-status={status}
        className={`meter status-${status.toLowerCase()}`}
      >
        <svg viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true" focusable="false">
          <rect className="meter-track" x="0" y="0" width="100" height="10" />
          <rect className="meter-fill" x="0" y="0" width={width} height="10" />
        </svg>
      </div>
      <p className="gauge-value">
        <span className="score">{format(score)}</span> <span className={`badge status-${status.toLowerCase()}`}>{status}</span>
      </p>
    </div>
  );
}
