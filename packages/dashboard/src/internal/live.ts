import type { ServerResponse } from 'node:http';
import type { Html } from './html.js';
import { writeHead } from './http.js';

const HEARTBEAT_MS = 15_000;

/**
 * Server-sent events of one open page: its live part rendered again at each `wake` (a result-store push or the
 * refresh interval), sent as an event `fragment` only when it changed. Ends when the client goes away.
 */
export async function liveStream(
  res: ServerResponse,
  render: () => Promise<Html | undefined>,
  wait: (signal: AbortSignal) => Promise<void>,
  onError: (error: unknown) => void,
): Promise<void> {
  const controller = new AbortController();
  res.on('close', () => controller.abort());
  writeHead(res, 200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
  });
  res.write('retry: 3000\n\n');
  const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
  heartbeat.unref();
  let last: string | undefined;
  try {
    while (!controller.signal.aborted) {
      let fragment: Html | undefined;
      try {
        fragment = await render();
      } catch (error) {
        onError(error);
        res.write('event: failed\ndata: {}\n\n');
        break;
      }
      if (fragment === undefined) break;
      if (fragment.text !== last && !controller.signal.aborted) {
        last = fragment.text;
        res.write(
          `event: fragment\n${fragment.text
            .split(/\r?\n/)
            .map((line) => `data: ${line}\n`)
            .join('')}\n`,
        );
      }
      await wait(controller.signal);
    }
  } finally {
    clearInterval(heartbeat);
    if (!res.writableEnded) res.end();
  }
}

/** Resolves after `ms`, at an abort, or when `poke` is called, whichever comes first. */
export function waiter(ms: number): { wait: (signal: AbortSignal) => Promise<void>; poke: () => void } {
  let wake: (() => void) | undefined;
  let poked = false;
  return {
    poke() {
      poked = true;
      wake?.();
    },
    wait(signal) {
      if (poked) {
        poked = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          wake = undefined;
          poked = false;
          resolve();
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener('abort', done);
        wake = done;
      });
    },
  };
}
