/**
 * What "recovered" means for a drill (docs/runbooks/drills.md): healthy (every
 * process's /readyz 200 and a read through the gateway 200), then caught up
 * (every backlog the fault left behind worked off: the ingest consumer
 * group's lag on the signals topic, the outbox, including the events the
 * consumer writes as it drains that lag, and the comms command queue).
 */
import type { Admin } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { DrillApplication } from './application';

export async function isHealthy(app: DrillApplication, read: () => Promise<{ status: number }>): Promise<boolean> {
  const ready = await Promise.all(
    Object.values(app.adminUrls).map(async (url) => {
      try {
        return (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) })).ok;
      } catch {
        return false;
      }
    }),
  );
  if (!ready.every(Boolean)) return false;
  try {
    return (await read()).status === 200;
  } catch {
    return false;
  }
}

/** The backlogs, in all and (with `mark`) what of them was there at the mark: outbox events, Kafka records, comms commands. */
export interface Backlogs {
  outbox: number;
  kafka: number;
  comms: number;
}

/** The signals topic's end offsets now, per partition: the Kafka backlog's mark at heal time. */
export async function topicEnds(kafkaAdmin: Admin, topic: string): Promise<Map<number, number>> {
  const ends = await kafkaAdmin.fetchTopicOffsets(topic);
  return new Map(ends.map((end) => [end.partition, Number(end.high)]));
}

/**
 * The backlogs now; with a mark (the heal's time and topic ends), only what was
 * already there at the mark: events and commands created before it, records
 * below its offsets not yet committed. Zero with a mark means caught up with
 * what the fault left behind, while the steady load goes on.
 */
export async function backlogs(
  app: DrillApplication,
  admin: pg.Pool,
  kafkaAdmin: Admin,
  mark?: { at: Date; ends: Map<number, number> },
): Promise<Backlogs> {
  const before = mark?.at ?? new Date(8.64e15);
  const { rows } = await admin.query<{ outbox: number; comms: number }>(
    `SELECT (SELECT count(*)::int FROM outbox WHERE processed_at IS NULL AND created_at <= $1) AS outbox,
            (SELECT count(*)::int FROM dispatch_commands WHERE state IN ('pending', 'running') AND created_at <= $1) AS comms`,
    [before],
  );
  const [ends, committed] = await Promise.all([
    kafkaAdmin.fetchTopicOffsets(app.signalsTopic),
    kafkaAdmin.fetchOffsets({ groupId: app.consumerGroup, topics: [app.signalsTopic] }),
  ]);
  const committedOf = (partition: number) => Number(committed[0]?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
  const kafka = ends.reduce((total, end) => {
    const upTo = mark?.ends.get(end.partition) ?? Number(end.high);
    return total + Math.max(0, upTo - Math.max(committedOf(end.partition), Number(end.low)));
  }, 0);
  return { outbox: rows[0]!.outbox, comms: rows[0]!.comms, kafka };
}

/** Polls `condition` until it holds (resolves with the time it did) or `deadlineMs` passes (resolves null). */
export async function waitUntil(condition: () => Promise<boolean>, deadlineMs: number, pollMs: number): Promise<number | null> {
  const giveUpAt = Date.now() + deadlineMs;
  while (Date.now() < giveUpAt) {
    if (await condition().catch(() => false)) return Date.now();
    await sleep(pollMs);
  }
  return null;
}
