import { AsyncLocalStorage } from 'node:async_hooks';

/** What `taskq worker` passes to a worker factory: the command-line overrides. */
export interface CliOverrides {
  readonly concurrency?: number;
  readonly queues?: readonly string[];
}

// Scoped to one createApplicationContext() call made by taskqCliWorker(), never a process-wide setting.
const storage = new AsyncLocalStorage<CliOverrides>();

/** @internal Runs `fn` (which creates the application context) in CLI mode. */
export function runInCliMode<T>(overrides: CliOverrides, fn: () => T): T {
  return storage.run(overrides, fn);
}

/** @internal The CLI overrides when the application context is being created by `taskq worker`. */
export function cliOverrides(): CliOverrides | undefined {
  return storage.getStore();
}
