import type { ServerResponse } from 'node:http';

/** Decides what happens to the response once it starts; `status` is the code the handler is about to send. */
export type OnResponseStart = (status: number) => Promise<void>;

/** What to send instead when `onStart` failed (the request's commit did not happen). */
export type Replacement = (res: ServerResponse, error: unknown, send: (body: string) => void) => void;

type Held = { method: 'writeHead' | 'write' | 'end' | 'flushHeaders'; args: unknown[] };

const METHODS = ['writeHead', 'write', 'end', 'flushHeaders'] as const;

/**
 * Holds back everything the handler writes (`writeHead`, `write`, `end`,
 * `flushHeaders`, so `res.json`, `res.send`, `res.redirect`, piped streams
 * and a plain `res.end` alike) from the first call until `onStart` settles,
 * then replays it in order. This is what makes a commit finish before the
 * client sees a byte: a client holding a task id can never find it unknown.
 *
 * If `onStart` fails, the held output is discarded (including headers such
 * as Location or Set-Cookie that described work which did not happen) and
 * `replace` answers instead.
 */
export function holdResponse(res: ServerResponse, onStart: OnResponseStart, replace: Replacement): { readonly started: () => boolean } {
  const held: Held[] = [];
  let phase: 'idle' | 'holding' | 'open' | 'failed' = 'idle';
  const original = {
    writeHead: res.writeHead,
    write: res.write,
    end: res.end,
    flushHeaders: res.flushHeaders,
  };
  const own = new Set(METHODS.filter((method) => Object.hasOwn(res, method)));
  const call = (entry: Held): unknown => (original[entry.method] as (...args: unknown[]) => unknown).apply(res, entry.args);
  const restore = (): void => {
    for (const method of METHODS) {
      if (own.has(method)) res[method] = original[method] as never;
      else Reflect.deleteProperty(res, method);
    }
  };

  const start = (status: number): void => {
    phase = 'holding';
    onStart(status).then(
      () => {
        phase = 'open';
        restore();
        for (const entry of held.splice(0)) call(entry);
      },
      (error: unknown) => {
        phase = 'failed';
        const ended = held.some((entry) => entry.method === 'end');
        held.length = 0;
        // Until the handler ends the response, swallow its writes; a write after our own end would emit 'error' on res.
        if (ended) answerInstead(error);
        else pendingError = error;
      },
    );
  };

  let pendingError: unknown;
  const answerInstead = (error: unknown): void => {
    restore();
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    replace(res, error, (body) => {
      res.setHeader('content-length', Buffer.byteLength(body));
      (original.end as (chunk: string) => unknown).call(res, body);
    });
  };

  const intercept = (method: Held['method']) =>
    function (this: ServerResponse, ...args: unknown[]): unknown {
      if (phase === 'open') return call({ method, args });
      if (phase === 'failed') {
        if (method === 'end') answerInstead(pendingError);
        return method === 'write' ? true : res;
      }
      held.push({ method, args });
      if (phase === 'idle') start(method === 'writeHead' && typeof args[0] === 'number' ? args[0] : res.statusCode);
      // Held data sits in memory for the length of a commit; tell writers to keep going rather than wait for a 'drain' that would come late.
      return method === 'write' ? true : res;
    };
  for (const method of METHODS) res[method] = intercept(method) as never;
  return { started: () => phase !== 'idle' };
}
