import { InvalidOptionError } from './errors.js';
import { isFinished, type ResultStore, type TaskStatus } from './result-store.js';

/** Options of `queue.watch(id)`. */
export interface WatchOptions {
  /** Ends the iteration (without an error) when aborted, e.g. when the HTTP client went away. */
  readonly signal?: AbortSignal;
}

/**
 * @internal Status snapshots of task `id`: the current one, then one per change the store pushes (state, attempts,
 * progress, outcome), ending after a finished one (`succeeded`, `dead`). Ends at once for an unknown id.
 */
export async function* watchStatus(
  store: ResultStore | undefined,
  read: (id: string) => Promise<TaskStatus | null>,
  id: string,
  options: WatchOptions = {},
): AsyncGenerator<TaskStatus, void, undefined> {
  if (!store) throw new InvalidOptionError('store', 'queue.watch() needs a result store: createQueue({ store })');
  if (typeof store.subscribe !== 'function')
    throw new InvalidOptionError('store', 'queue.watch() needs a result store with subscribe()');
  const { signal } = options;
  if (signal?.aborted) return;
  let changed = true;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    changed = true;
    wake?.();
  };
  // Subscribed before the first read, so a change between the two is not missed.
  const unsubscribe = await store.subscribe(id, notify);
  signal?.addEventListener('abort', notify);
  try {
    let last: string | undefined;
    while (!signal?.aborted) {
      if (!changed) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
        continue;
      }
      changed = false;
      const status = await read(id);
      if (!status) return;
      const fingerprint = JSON.stringify([
        status.state,
        status.attempts,
        status.deliveries,
        status.progress,
        status.error,
        status.startedAt,
        status.finishedAt,
      ]);
      if (fingerprint !== last) {
        last = fingerprint;
        yield status;
      }
      if (isFinished(status.state)) return;
    }
  } finally {
    signal?.removeEventListener('abort', notify);
    await unsubscribe();
  }
}
