import { InvalidOptionError } from '@taskq/core';
import type { TaskqQueueDefinition, TaskqWorkerQueue } from '../options.js';
import { DEFAULT_QUEUE_NAME } from '../tokens.js';

/** The queues of one core worker: several queues on one shared consumer, or one queue with a concurrency of its own. */
export interface WorkerGroup {
  readonly queues: readonly string[];
  readonly concurrency: number;
}

/**
 * @internal Splits the queues a context consumes into core workers. Queues without a concurrency of their own share
 * one consumer (`worker.concurrency`); each queue with one gets its own, as a BullMQ processor with its own
 * concurrency has. The shared group comes first: it is the worker `@InjectWorker()` injects.
 */
export function workerGroups(
  consumed: readonly TaskqWorkerQueue[] | undefined,
  declared: readonly TaskqQueueDefinition[],
  sharedConcurrency: number,
): WorkerGroup[] {
  const declaredConcurrency = new Map<string, number>();
  for (const definition of declared) {
    if (definition.concurrency === undefined) continue;
    const other = declaredConcurrency.get(definition.name);
    if (other !== undefined && other !== definition.concurrency)
      throw new InvalidOptionError(
        'queues',
        `the queue "${definition.name}" is declared with concurrency ${other} and ${definition.concurrency}; give it one (or set it in worker.queues)`,
      );
    declaredConcurrency.set(definition.name, definition.concurrency);
  }
  const entries = consumed ?? [
    { name: DEFAULT_QUEUE_NAME },
    ...[...new Set(declared.map((d) => d.name))].map((name) => ({ name })),
  ];
  const shared: string[] = [];
  const own: WorkerGroup[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    if (seen.has(entry.name)) continue;
    seen.add(entry.name);
    const concurrency = entry.concurrency ?? declaredConcurrency.get(entry.name);
    if (concurrency === undefined) shared.push(entry.name);
    else own.push({ queues: [entry.name], concurrency });
  }
  return shared.length > 0 ? [{ queues: shared, concurrency: sharedConcurrency }, ...own] : own;
}
