import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '@coherence/platform';

export interface ReloadTarget {
  name: string;
  /** The file whose change triggers the reload (its folder is watched: editors and builds replace files). */
  file: string;
  reload: () => Promise<void>;
}

/**
 * Hot reload: runs a target's `reload` when its file changes (debounced, so a
 * build that writes several files triggers one reload) and every target's on
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

  const onChange = (target: ReloadTarget) => (_event: string, changed: string | null) => {
    if (changed !== basename(target.file)) return;
    clearTimeout(timers.get(target.name));
    timers.set(
      target.name,
      setTimeout(() => void run(target), debounceMs),
    );
  };
  for (const target of targets) {
    try {
      const watcher = watch(dirname(target.file), onChange(target));
      watcher.on('error', (error) => logger.warn({ err: error, target: target.name }, 'file watch failed; SIGHUP still reloads'));
      watchers.push(watcher);
    } catch (error) {
      // A folder that does not exist yet (no bundle deployed) cannot be watched; SIGHUP still reloads.
      logger.warn({ err: error, target: target.name, file: target.file }, 'cannot watch for changes; reload with SIGHUP');
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
