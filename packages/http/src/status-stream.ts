import { Readable } from 'node:stream';
import type { TaskQueue } from '@taskq/core';
import { type PublicStatusOptions, publicStatus } from './public-status.js';

/** How often an idle status stream sends a comment line, so proxies and load balancers keep the connection open. */
export const HEARTBEAT_MS = 15_000;

/** The headers of a status stream. */
export const EVENT_STREAM_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  // nginx buffers responses by default, which would hold the events back.
  'x-accel-buffering': 'no',
});

/** True when the request's `Accept` header asks for `text/event-stream` (what `EventSource` sends). */
export function wantsEventStream(accept: unknown): boolean {
  const value = Array.isArray(accept) ? accept.join(',') : accept;
  return typeof value === 'string' && /(^|,)\s*text\/event-stream\s*(;|,|$)/i.test(value);
}

/**
 * The body of a status stream (server-sent events) for task `id`: an event `status` with the public status as JSON
 * (the same object the status route answers) at once and at every change the result store pushes (state, attempts,
 * progress), a `: heartbeat` comment every 15 s while nothing changes, and the end of the stream after a finished
 * status. If reading the store fails, an event `error` (`{ error: { code? } }`, no message) ends it. Destroying the stream (the adapters do when the client goes away) stops watching the task.
 *
 * Call it after the status route's answer was 200: the route's `authorize` has let this request read the task.
 */
export function statusEventStream(queue: TaskQueue, id: string, options: PublicStatusOptions = {}): Readable {
  const controller = new AbortController();
  let heartbeat: NodeJS.Timeout | undefined;
  const stream = new Readable({
    read() {},
    destroy(error, callback) {
      controller.abort();
      if (heartbeat !== undefined) clearInterval(heartbeat);
      callback(error);
    },
  });
  heartbeat = setInterval(() => stream.push(': heartbeat\n\n'), HEARTBEAT_MS);
  heartbeat.unref();
  void (async () => {
    try {
      for await (const status of queue.watch(id, { signal: controller.signal })) {
        if (stream.destroyed) break;
        stream.push(`event: status\ndata: ${JSON.stringify(publicStatus(status, options))}\n\n`);
      }
    } catch (error) {
      // Told to the client by taskq's error code only (the message may name the database); then the stream ends.
      const code = (error as { code?: unknown } | null)?.code;
      const known = typeof code === 'string' && code.startsWith('TASKQ_');
      if (!stream.destroyed) stream.push(`event: error\ndata: ${JSON.stringify({ error: known ? { code } : {} })}\n\n`);
    } finally {
      if (heartbeat !== undefined) clearInterval(heartbeat);
      if (!stream.destroyed) stream.push(null);
    }
  })();
  return stream;
}
