import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '@coherence/platform';

export interface ReloadTarget {
  name: string;
  /** The files whose change triggers the reload (their folders are watched: editors and builds replace files). */
  files: readonly string[];
  reload: () => Promise<void>;
}

/**
 * Hot reload: runs a target's `reload` when one of its files changes
 * (debounced per target, so a build or a publish that writes several files
 * triggers one reload) and every target's on
 * SIGHUP. Reloads of one target never overlap. `reload` decides whether the
 * new content is taken; a failure keeps what is active.
 */
export function watchReloads(targets: readonly ReloadTarget[], logger: Logger, debounceMs = 150) {
  const watchers: FSWatcher[] = [];
  const timers = new Map<string, NodeJS.Timeout>();
  const running = new Map<string, Promise<void>>();

  const run = (target: ReloadTarget): Promise<void> => {
    const previous = running.get(target.name) ?? Promise.resolve();
    const next = previous
      .then(() => target.reload())
      .catch((error: unknown) => logger.error({ err: error, target: target.name }, 'reload failed'));
    running.set(target.name, next);
    return next;
  };

  const onChange = (target: ReloadTarget, file: string) => (_event: string, changed: string | null) => {
    if (changed !== basename(file)) return;
    clearTimeout(timers.get(target.name));
    timers.set(
      target.name,
      setTimeout(() => void run(target), debounceMs),
    );
  };
  for (const target of targets) {
    for (const file of target.files) {
      try {
        const watcher = watch(dirname(file), onChange(target, file));
        watcher.on('error', (error) => logger.warn({ err: error, target: target.name }, 'file watch failed; SIGHUP still reloads'));
        watchers.push(watcher);
      } catch (error) {
        // A folder that does not exist yet (no bundle deployed) cannot be watched; SIGHUP still reloads.
        logger.warn({ err: error, target: target.name, file }, 'cannot watch for changes; reload with SIGHUP');
      }
    }
  }
  const reloadAll = () => Promise.all(targets.map(run)).then(() => undefined);
  const onSighup = () => void reloadAll();
  process.on('SIGHUP', onSighup);

  return {
    reloadAll,
    async close() {
      process.off('SIGHUP', onSighup);
      for (const watcher of watchers) watcher.close();
      for (const timer of timers.values()) clearTimeout(timer);
      await Promise.all(running.values());
    },
  };
}
