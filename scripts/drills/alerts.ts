/**
 * The alerts Prometheus evaluates over the drill (the rules of grafana/rules/,
 * with their production hold times): polled from /api/v1/alerts through the
 * whole drill, so the report can say which went pending, which fired, and
 * which resolved again, each at its offset from the injection.
 */
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 2_000;

export interface AlertSeen {
  /** `alertname`, with the `service` label when the alert has one. */
  alert: string;
  /** Already pending or firing when the drill started watching (before the fault). */
  activeBeforeFault: boolean;
  /** Offsets from the injection, in ms (negative: before it). */
  pendingAtMs: number | null;
  firingAtMs: number | null;
  resolvedAtMs: number | null;
}

interface PrometheusAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
}

export function watchAlerts(prometheusUrl: string) {
  const seen = new Map<string, AlertSeen>();
  let injectedAt: number | undefined;
  let stopped = false;
  let lastError: string | undefined;
  const offset = () => Date.now() - (injectedAt ?? Date.now());
  const poll = async () => {
    const response = await fetch(`${prometheusUrl}/api/v1/alerts`, { signal: AbortSignal.timeout(5_000) });
    const body = (await response.json()) as { data: { alerts: PrometheusAlert[] } };
    const active = new Set<string>();
    for (const { labels, state } of body.data.alerts) {
      if (state === 'inactive') continue;
      const alert = labels['service'] ? `${labels['alertname']} (${labels['service']})` : labels['alertname']!;
      active.add(alert);
      const entry = seen.get(alert) ?? {
        alert,
        activeBeforeFault: injectedAt === undefined,
        pendingAtMs: null,
        firingAtMs: null,
        resolvedAtMs: null,
      };
      entry.pendingAtMs ??= offset();
      if (state === 'firing') entry.firingAtMs ??= offset();
      entry.resolvedAtMs = null;
      seen.set(alert, entry);
    }
    for (const entry of seen.values()) if (!active.has(entry.alert)) entry.resolvedAtMs ??= offset();
  };
  const loop = (async () => {
    while (!stopped) {
      try {
        await poll();
        lastError = undefined;
      } catch (error) {
        lastError = error instanceof Error ? error.message : String(error);
      }
      await sleep(POLL_MS);
    }
  })();
  return {
    injected() {
      injectedAt = Date.now();
    },
    /** Alerts that fired (not just pending) and have not resolved yet. */
    stillFiring: () => [...seen.values()].filter((entry) => entry.firingAtMs !== null && entry.resolvedAtMs === null),
    async stop(): Promise<{ alerts: AlertSeen[]; pollError: string | undefined }> {
      stopped = true;
      await loop;
      return { alerts: [...seen.values()], pollError: lastError };
    },
  };
}
