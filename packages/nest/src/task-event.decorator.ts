import 'reflect-metadata';
import type { WorkerEvents } from '@taskq/core';
import { TaskEventHandlerError } from './errors.js';

/** A worker event an `@OnTaskEvent()` method can listen to. */
export type TaskEventName = keyof WorkerEvents;

/** Options of {@link OnTaskEvent}. */
export interface OnTaskEventOptions {
  /** Only events of tasks on this logical queue (not for `'error'`, which belongs to no task). */
  readonly queue?: string;
}

/** What `@OnTaskEvent()` records on a method (one entry per decorator). */
export interface TaskEventMetadata {
  readonly event: TaskEventName;
  readonly queue: string | undefined;
}

const EVENTS: readonly TaskEventName[] = ['active', 'completed', 'failed', 'dead', 'error'];
// A string key, as for @Task(), so two installed copies of @taskq/nest read each other's metadata.
const EVENT_METADATA = 'taskq:task-event';

/**
 * Calls the provider method with the event's payload whenever a worker of this
 * application context emits `event` (`ActiveEvent`, `CompletedEvent`,
 * `FailedEvent`, `DeadEvent` or `WorkerErrorEvent` from @taskq/core). The
 * listeners are attached before the worker starts; in a context without a
 * worker they are never called. A listener that throws or rejects is logged;
 * it never affects the task. Providers must be singletons (the default scope).
 *
 * @example
 * ```ts
 * @Injectable()
 * export class TaskAlerts {
 *   @OnTaskEvent('failed', { queue: 'emails' })
 *   onFailed(event: FailedEvent) { if (!event.willRetry) this.pager.alert(event.name, event.error); }
 * }
 * ```
 */
export function OnTaskEvent(event: TaskEventName, options: OnTaskEventOptions = {}): MethodDecorator {
  if (!EVENTS.includes(event))
    throw new TaskEventHandlerError(
      `@OnTaskEvent(${JSON.stringify(event)}): expected one of ${EVENTS.map((e) => `'${e}'`).join(', ')}`,
    );
  if (typeof options !== 'object' || options === null)
    throw new TaskEventHandlerError('@OnTaskEvent(event, options): options must be an object such as { queue }');
  const queue = options.queue;
  if (queue !== undefined && (typeof queue !== 'string' || queue.length === 0))
    throw new TaskEventHandlerError(`@OnTaskEvent(): queue must be a queue name, got ${JSON.stringify(queue)}`);
  if (queue !== undefined && event === 'error')
    throw new TaskEventHandlerError("@OnTaskEvent('error', { queue }): worker errors belong to no queue");
  return (target, key, descriptor) => {
    const where = `${(typeof target === 'function' ? target : target.constructor)?.name ?? '?'}.${String(key)}`;
    if (typeof target === 'function' || typeof descriptor.value !== 'function')
      throw new TaskEventHandlerError(`@OnTaskEvent() on ${where}: it marks instance methods of providers`);
    const previous = getTaskEventMetadata(descriptor.value) ?? [];
    Reflect.defineMetadata(EVENT_METADATA, [...previous, { event, queue }], descriptor.value);
  };
}

/** The `@OnTaskEvent()` metadata of a method, or undefined for an undecorated one. */
export function getTaskEventMetadata(method: unknown): readonly TaskEventMetadata[] | undefined {
  if (typeof method !== 'function') return undefined;
  return Reflect.getMetadata(EVENT_METADATA, method) as readonly TaskEventMetadata[] | undefined;
}
