import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** Decides what happens to the response once it starts; `status` is the code the handler is about to send. */
export type OnResponseStart = (status: number) => Promise<void>;

/** What to send instead when `onStart` failed (the request's commit did not happen). */
export type Replacement = (res: ServerResponse, error: unknown, send: (body: string) => void) => void;

type Method = 'writeHead' | 'write' | 'end' | 'flushHeaders';
type Held = { readonly method: Method; readonly args: unknown[] };
type Frozen = { readonly statusCode: number; readonly statusMessage: string; readonly headers: OutgoingHttpHeaders };

const METHODS: readonly Method[] = ['writeHead', 'write', 'end', 'flushHeaders'];

/**
 * Holds back everything the handler writes (`writeHead`, `write`, `end`,
 * `flushHeaders`, so `res.json`, `res.send`, `res.redirect`, piped streams
 * and a plain `res.end` alike) from the first call until `onStart` settles,
 * then replays it in order. This is what makes a commit finish before the
 * client sees a byte: a client holding a task id can never find it unknown.
 *
 * The response is frozen as it was at the first held call, as Node fixes
 * the headers at the first write: status or headers changed while the commit
 * runs are undone, and writes after a held `end` are dropped (unheld, Node
 * would have refused them). The wrappers stay in place afterwards and pass
 * through, so middleware that wrapped these methods after us (on-headers,
 * compression) keeps working.
 *
 * If `onStart` fails, the held output is discarded (including headers such
 * as Location or Set-Cookie that described work which did not happen) and
 * `replace` answers instead.
 */
export function holdResponse(res: ServerResponse, onStart: OnResponseStart, replace: Replacement): void {
  const original = { writeHead: res.writeHead, write: res.write, end: res.end, flushHeaders: res.flushHeaders };
  const held: Held[] = [];
  let phase: 'idle' | 'holding' | 'open' | 'failed' | 'replaced' = 'idle';
  let frozen: Frozen | undefined;
  let ended = false;
  let failure: unknown;
  // True while we call Node ourselves: its end() calls this.writeHead() (our wrapper) to store the header.
  let internal = false;

  const call = (entry: Held): unknown =>
    (original[entry.method] as (...args: unknown[]) => unknown).apply(res, entry.args);

  const thaw = (): void => {
    if (!frozen) return;
    res.statusCode = frozen.statusCode;
    res.statusMessage = frozen.statusMessage;
    for (const name of res.getHeaderNames()) if (!Object.hasOwn(frozen.headers, name)) res.removeHeader(name);
    for (const [name, value] of Object.entries(frozen.headers)) if (value !== undefined) res.setHeader(name, value);
  };

  const answerInstead = (): void => {
    phase = 'replaced';
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    internal = true;
    try {
      replace(res, failure, (body) => {
        res.setHeader('content-length', Buffer.byteLength(body));
        (original.end as (chunk: string) => unknown).call(res, body);
      });
    } finally {
      internal = false;
    }
  };

  const start = (status: number): void => {
    phase = 'holding';
    onStart(status).then(
      () => {
        phase = 'open';
        thaw();
        for (const entry of held.splice(0)) call(entry);
      },
      (error: unknown) => {
        phase = 'failed';
        failure = error;
        held.length = 0;
        // Until the handler ends the response, swallow its writes: a write after our own end would emit 'error' on res.
        if (ended) answerInstead();
      },
    );
  };

  const intercept = (method: Method) =>
    function (this: ServerResponse, ...args: unknown[]): unknown {
      if (phase === 'open' || internal) return call({ method, args });
      if (ended || phase === 'replaced') return method === 'write' ? false : res;
      if (method === 'end') ended = true;
      if (phase === 'failed') {
        if (ended) answerInstead();
        return method === 'write' ? true : res;
      }
      frozen ??= { statusCode: res.statusCode, statusMessage: res.statusMessage, headers: { ...res.getHeaders() } };
      held.push({ method, args });
      if (phase === 'idle') start(method === 'writeHead' && typeof args[0] === 'number' ? args[0] : res.statusCode);
      // Held data sits in memory for the length of a commit; tell writers to keep going rather than wait for a 'drain'
      // that would come late.
      return method === 'write' ? true : res;
    };
  for (const method of METHODS) res[method] = intercept(method) as never;
}
