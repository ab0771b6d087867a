// The app every HTTP adapter builds for the contract suite: its tasks, its routes' behaviour, and how the suite
// configures it.
import { request as httpRequest } from 'node:http';
import {
  currentTask,
  type ResultStore,
  type TaskHandle,
  type TaskQueue,
  TaskRegistry,
  type TaskStatus,
  type Transport,
  type UnitOfWork,
  type UrlHelpers,
} from '@taskq/core';
import { currentUnitOfWork } from '@taskq/core/adapter';
import type { Cleanup } from '../cleanup.js';
import { gate } from '../wait.js';

/** A failure whose message holds what a database driver puts there: a connection string and an internal address. */
export class DatabaseError extends Error {
  override readonly name = 'DatabaseError';
  readonly code = '23505';
}
/** A failure written for the client, marked public the way http-errors marks its 4xx errors. */
export class CsvFormatError extends Error {
  override readonly name = 'CsvFormatError';
  readonly code = 'CSV_FORMAT';
  readonly expose = true;
}

export const SECRET = 'postgres://app@10.0.0.12:5432/prod';
export const PUBLIC_MESSAGE = 'the CSV has no header row';

/** Labels of the `record` tasks that ran, in order (the worker runs in the test's process). */
export const ran: string[] = [];
/** Task ids the `/outcome` handler submitted, by mode, also for requests that then failed. */
export const submitted = new Map<string, string>();
/** Holds the `gated` task until the test opens it. */
export const taskGate = { current: gate() };
/** Holds the `slow` outcome's handler after its submit until the test releases it. */
export const slowHandler = { submitted: gate(), release: gate() };

/** Resets the shared fixtures between tests. */
export function resetFixtures(): void {
  ran.length = 0;
  submitted.clear();
  taskGate.current = gate();
  slowHandler.submitted = gate();
  slowHandler.release = gate();
}

async function succeed(): Promise<string> {
  ran.push('succeed');
  return 'done';
}
async function failWithSecret(): Promise<string> {
  throw new DatabaseError(`duplicate key value violates unique constraint "users_email_key" (${SECRET})`);
}
async function failInPublic(): Promise<string> {
  throw new CsvFormatError(PUBLIC_MESSAGE);
}
async function gated(): Promise<{ month: string; rows: number }> {
  await taskGate.current.promise;
  return { month: '2026-01', rows: 42 };
}
/** Reports five steps of progress, 250 ms apart (longer than the store's write throttle), then answers. */
async function steps(): Promise<string> {
  for (let step = 1; step <= 5; step++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    currentTask().progress(step * 20);
  }
  return 'stepped';
}
/** The task of the `/outcome` routes: records that it ran. */
export async function record(label: string): Promise<string> {
  ran.push(label);
  return label;
}
/** A task that takes the request, as the essay's send_push_message does. */
export async function newsLinks(request: UrlHelpers, slug: string): Promise<{ news: string; home: string }> {
  return { news: request.routeUrl('news', { slug, ref: 'push' }), home: request.absoluteUrl('/') };
}

/** The tasks of the contract app, one attempt each so a failure is final at once. */
export const contractRegistry = new TaskRegistry()
  .add('contract.succeed', succeed, { attempts: 1 })
  .add('contract.failWithSecret', failWithSecret, { attempts: 1 })
  .add('contract.failInPublic', failInPublic, { attempts: 1 })
  .add('contract.gated', gated, { attempts: 1 })
  .add('contract.steps', steps, { attempts: 1 })
  .add('contract.record', record, { attempts: 1 })
  .add('contract.newsLinks', newsLinks, { attempts: 1 });

/** The named routes every contract app gives its adapter. */
export const CONTRACT_ROUTES = Object.freeze({ news: '/news/:slug' });

const TASKS: Readonly<Record<string, () => Promise<unknown>>> = {
  ok: succeed,
  secret: failWithSecret,
  public: failInPublic,
  gated,
  steps,
};

/** The task a `POST /jobs/:kind` submits. */
export function contractTask(kind: string): () => Promise<unknown> {
  const task = TASKS[kind];
  if (!task) throw new Error(`no contract task "${kind}"`);
  return task;
}

/** The cookie every `POST /jobs/:kind` sets before answering: it must not survive a failed commit. */
export const JOBS_COOKIE = 'session=logged-in';

/** What the `/outcome/:mode` handler needs from its adapter. */
export interface OutcomeTools {
  /** The queue the handler submits with (the request's view where the adapter has one). */
  readonly queue: Pick<TaskQueue, 'submit'>;
  /** The application's queue, which knows nothing of the request. */
  readonly appQueue: Pick<TaskQueue, 'submit'>;
  /** The unit of work the adapter opened for this request. */
  unitOfWork(): UnitOfWork;
  /** An error the framework answers with 400. */
  clientError(message: string): Error;
}

/** What the handler answers, unless it threw. */
export interface Outcome {
  readonly status: number;
  readonly body: unknown;
}

/**
 * `POST /outcome/:mode`: submits a `record(mode)` task, then ends as `mode` says:
 * `ok` (200), `throw` (500), `throw-400` (an error the framework answers 400),
 * `answer-<status>`, `slow` (waits for the test), `context-ok` / `context-throw`
 * (after awaits, submits through the application queue and reports whether
 * the request's unit of work was current).
 */
export async function contractOutcome(mode: string, tools: OutcomeTools): Promise<Outcome> {
  if (mode.startsWith('context-')) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    const inContext = currentUnitOfWork() === tools.unitOfWork();
    const task: TaskHandle<string> = await tools.appQueue.submit(record, mode);
    submitted.set(mode, task.id);
    if (mode === 'context-throw') throw new Error('after submit');
    return { status: 200, body: { task: task.id, inContext } };
  }
  const task: TaskHandle<string> = await tools.queue.submit(record, mode);
  submitted.set(mode, task.id);
  if (mode === 'throw') throw new Error('after submit');
  if (mode === 'throw-400') throw tools.clientError('invalid e-mail');
  if (mode === 'slow') {
    slowHandler.submitted.open();
    await slowHandler.release.promise;
  }
  const answered = /^answer-(\d{3})$/.exec(mode);
  return answered ? { status: Number(answered[1]), body: { error: mode } } : { status: 200, body: { task: task.id } };
}

/** A request as `authorize` sees it on every adapter: each framework's request has the headers. */
export type ContractRequest = { readonly headers: Readonly<Record<string, string | string[] | undefined>> };

/** How the suite configures an app; each adapter maps these onto its own options. */
export interface ContractOptions {
  readonly allowedHosts?: readonly string[];
  /** Trust X-Forwarded-* from loopback (Express's `trust proxy`, Fastify's `trustProxy`). */
  readonly trustProxy?: boolean;
  readonly authorize?: (request: ContractRequest, status: TaskStatus) => boolean;
  readonly exposeErrors?: boolean;
  /** The status route also shows task name, queue, message and stack. */
  readonly internals?: boolean;
  readonly rollbackOn?: (status: number) => boolean;
  /** Mount the app under this path (Express `use(path, app)`, a Fastify prefix, Nest's global prefix). */
  readonly basePath?: string;
  /** Wraps the app's transport, to slow or refuse publishes. */
  readonly wrap?: (transport: Transport) => Transport;
  /** The result store of the app and its worker. @defaultValue a memory store */
  readonly store?: ResultStore;
  /** Start a worker for the app's tasks with the app (else `startWorker()` does). @defaultValue `true` */
  readonly worker?: boolean;
}

/** A listening app. */
export interface ContractApp {
  /** The origin (`http://127.0.0.1:<port>`), without the base path. */
  readonly url: string;
  readonly port: number;
  /** How often `POST /jobs/:kind` ran. */
  handlerRuns(): number;
  /** Takes the next message from the app's queue on the broker, as raw text (with `worker: false`). */
  takeRawMessage(): Promise<string | undefined>;
  /** Starts the worker an app started with `worker: false` has not started. */
  startWorker(): Promise<void>;
}

/**
 * Starts an app with the adapter under test, closed by `cleanup`. Its routes, under `basePath`:
 * - `POST /jobs/:kind` counts its run, sets the {@link JOBS_COOKIE}, submits
 *   {@link contractTask}(kind) and answers with the adapter's 202 helper
 *   (Location at the status route, `Retry-After: 1`);
 * - `POST /outcome/:mode` answers what {@link contractOutcome} says;
 * - `POST /links/:slug` answers `{ direct, task }`: {@link newsLinks} called
 *   with the live request's URL helpers, and the id of the same task
 *   submitted with the request itself as its argument;
 * - `GET /tasks/:id` is the adapter's status route (`authorize`, `exposeErrors`, `internals`);
 * - a worker (unless `worker: false`) runs the tasks, sharing the route's result store;
 * - an error is answered as JSON with its status and `code` somewhere in the body.
 */
export type StartContractApp = (options: ContractOptions, cleanup: Cleanup) => Promise<ContractApp>;

export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

/** A request with a Host header of our choosing (fetch would not send one). */
export function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
