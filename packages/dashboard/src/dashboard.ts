import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { errorCode } from '@taskq/core';
import { DashboardCsrfError, DashboardForbiddenError, DashboardReadOnlyError } from './errors.js';
import { runAction } from './internal/actions.js';
import { type Asset, loadAssets } from './internal/assets.js';
import { type Html, html } from './internal/html.js';
import {
  CSRF_HEADER,
  csrfCookie,
  csrfSetCookie,
  formFields,
  newCsrfToken,
  redirect,
  sameToken,
  sendHtml,
  writeHead,
} from './internal/http.js';
import { errorPage, noticeOf, page, type Section, type View } from './internal/layout.js';
import { liveStream, waiter } from './internal/live.js';
import {
  BrokerAnswers,
  FinishedHistory,
  loadDead,
  loadOverview,
  loadWorkers,
  PAGE_SIZE,
  taskFilters,
} from './internal/model.js';
import {
  deadLive,
  overviewLive,
  queryOf,
  taskFilterForm,
  taskLive,
  tasksLive,
  transportNote,
  workersLive,
} from './internal/pages.js';
import { WorkerRoster } from './internal/roster.js';
import { loadSchedules, schedulesLive } from './internal/schedules.js';
import {
  type DashboardOptions,
  type DashboardPrincipal,
  isDirectLoopback,
  type ResolvedDashboardOptions,
  resolveDashboardOptions,
} from './options.js';

/**
 * The dashboard as a Node request handler. Mount it under any path (`app.use('/admin/taskq', handler)` in Express,
 * `http.createServer(handler)` at the root); it serves its pages, its assets and its live updates below that path.
 */
export interface DashboardHandler {
  (request: IncomingMessage, response: ServerResponse, next?: (error?: unknown) => void): void;
  /**
   * Serves one request whose path below the dashboard is `path` (with its query), the dashboard being mounted at
   * `mount` (`'/admin/taskq'`, or `''` at the root): for bindings to frameworks that do not strip the mount path.
   */
  handle(request: IncomingMessage, response: ServerResponse, mount: string, path: string): Promise<void>;
  /** Stops listening to worker heartbeats. The queue is not closed: it is the application's. */
  close(): Promise<void>;
}

/** A page: its place in the navigation, its heading, a part rendered once and the part kept live. */
interface Rendered {
  readonly section: Section;
  readonly heading: string;
  readonly intro?: Html;
  readonly live: Html;
  readonly status?: number;
  /** False: the page has nothing to keep live. */
  readonly liveView?: false;
}

/** What one handler keeps between requests. */
interface HandlerState {
  readonly roster: WorkerRoster;
  /** The queues the last overview showed. */
  readonly lastQueues: Set<string>;
  readonly broker: BrokerAnswers;
  readonly history: FinishedHistory;
}

/** Creates the dashboard's request handler; the options are checked here, once. */
export function dashboard(options: DashboardOptions): DashboardHandler {
  const resolved = resolveDashboardOptions(options);
  const assets = loadAssets();
  const state: HandlerState = {
    roster: new WorkerRoster(resolved.queue.transport, resolved.logger),
    lastQueues: new Set(),
    broker: new BrokerAnswers(Math.min(1_000, resolved.refreshMs / 2)),
    history: new FinishedHistory(),
  };
  const handle = (request: IncomingMessage, response: ServerResponse, mount: string, path: string): Promise<void> =>
    serve(resolved, assets, state, request, response, mount.replace(/\/$/, ''), path || '/');
  const handler = ((request: IncomingMessage, response: ServerResponse, next?: (error?: unknown) => void): void => {
    const { mount, path } = whereMounted(request);
    handle(request, response, mount, path).catch((error: unknown) => {
      if (next) next(error);
      else if (!response.headersSent) sendHtml(response, 500, errorPage(500, undefined, 'The dashboard failed.'));
      else response.destroy();
    });
  }) as DashboardHandler;
  handler.handle = handle;
  handler.close = () => state.roster.close();
  return handler;
}

/** Where the framework mounted the handler: Express gives `baseUrl` and the rest in `url`. */
function whereMounted(request: IncomingMessage): { mount: string; path: string } {
  const url = request.url ?? '/';
  const { baseUrl, originalUrl } = request as { baseUrl?: unknown; originalUrl?: unknown };
  if (typeof baseUrl === 'string') return { mount: baseUrl, path: url };
  if (typeof originalUrl === 'string' && originalUrl.endsWith(url) && originalUrl !== url) {
    return { mount: originalUrl.slice(0, originalUrl.length - url.length), path: url };
  }
  return { mount: '', path: url };
}

async function authorize(
  options: ResolvedDashboardOptions,
  request: IncomingMessage,
): Promise<DashboardPrincipal | DashboardForbiddenError> {
  if (options.authorize) {
    const principal = await options.authorize(request);
    if (principal === false || principal === null || principal === undefined || principal === '')
      return new DashboardForbiddenError('You are not allowed to see this dashboard.');
    return principal;
  }
  if (options.readOnly && isDirectLoopback(request)) return 'loopback';
  return new DashboardForbiddenError(
    options.readOnly
      ? 'This dashboard has no authorize option, so it only answers read-only requests from this machine.'
      : 'This dashboard has no authorize option: give dashboard({ authorize }) to let users in.',
  );
}

async function serve(
  options: ResolvedDashboardOptions,
  assets: ReturnType<typeof loadAssets>,
  state: HandlerState,
  request: IncomingMessage,
  response: ServerResponse,
  mount: string,
  path: string,
): Promise<void> {
  const url = new URL(path.startsWith('/') ? path : `/${path}`, 'http://dashboard.invalid');
  const method = request.method ?? 'GET';
  const principal = await authorize(options, request);
  if (principal instanceof DashboardForbiddenError) {
    sendHtml(response, 403, errorPage(403, principal.code, principal.message));
    return;
  }
  const route = url.pathname.replace(/\/+$/, '') || '/';
  if (route.startsWith('/assets/') && (method === 'GET' || method === 'HEAD')) {
    sendAsset(
      request,
      response,
      assets.files.get(route.slice('/assets/'.length)),
      url.searchParams.get('v') === assets.version,
    );
    return;
  }
  const base = options.basePath ?? mount;
  const cookieToken = csrfCookie(request);
  if (method === 'POST') {
    await post(options, state, request, response, base, route, principal, cookieToken);
    return;
  }
  if (method !== 'GET' && method !== 'HEAD') {
    writeHead(response, 405, { allow: 'GET, HEAD, POST', 'content-length': '0' });
    response.end();
    return;
  }
  const csrf = cookieToken ?? newCsrfToken();
  const secure = Boolean((request.socket as TLSSocket).encrypted) || request.headers['x-forwarded-proto'] === 'https';
  const cookie: Record<string, string> = cookieToken ? {} : { 'set-cookie': csrfSetCookie(csrf, base || '/', secure) };
  const view: View = {
    base,
    path: `${route}${url.search}`,
    csrf,
    readOnly: options.readOnly,
    title: options.title,
    assetVersion: assets.version,
    schedules: options.schedules !== undefined,
  };
  if (route === '/live') {
    const target = url.searchParams.get('view') ?? '/';
    if (!target.startsWith('/') || target.startsWith('//')) {
      sendHtml(response, 400, errorPage(400, undefined, 'Bad view.'));
      return;
    }
    const targetUrl = new URL(target, 'http://dashboard.invalid');
    const liveView: View = { ...view, path: `${targetUrl.pathname}${targetUrl.search}` };
    const { wait, poke } = waiter(options.refreshMs);
    const taskId = /^\/tasks\/([^/]+)$/.exec(targetUrl.pathname)?.[1];
    const store = options.queue.store;
    const unsubscribe =
      taskId !== undefined && store?.subscribe ? await store.subscribe(safeDecode(taskId), poke) : undefined;
    try {
      await liveStream(
        response,
        async () => (await renderView(options, state, liveView, targetUrl))?.live,
        wait,
        (error) => options.logger.warn('taskq dashboard: a live update failed', { error }),
      );
    } finally {
      await unsubscribe?.();
    }
    return;
  }
  if (route === '/tasks' && url.searchParams.get('id')) {
    const id = url.searchParams.get('id')?.trim() ?? '';
    if (options.queue.store && (await options.queue.store.get(id))) {
      redirect(response, `${base}/tasks/${encodeURIComponent(id)}`);
      return;
    }
  }
  let rendered: Rendered | undefined;
  try {
    rendered = await renderView(options, state, view, url);
  } catch (error) {
    if (errorCode(error) === 'TASKQ_INVALID_OPTION') {
      sendHtml(response, 400, errorPage(400, 'TASKQ_INVALID_OPTION', (error as Error).message));
      return;
    }
    options.logger.warn('taskq dashboard: a page failed', { error, page: route });
    sendHtml(
      response,
      500,
      errorPage(500, undefined, 'The dashboard could not read the queue or the store; see the server log.'),
      cookie,
    );
    return;
  }
  if (!rendered) {
    sendHtml(response, 404, errorPage(404, undefined, 'No such page.'), cookie);
    return;
  }
  const body = page(view, {
    section: rendered.section,
    heading: rendered.heading,
    intro: rendered.intro,
    live: rendered.live,
    notice: noticeOf(url.searchParams),
    liveView: rendered.liveView === false ? false : stripNotice(url, route),
  });
  sendHtml(response, rendered.status ?? 200, body, cookie);
}

/** The page's path without the notice an action left in it, so the live stream does not repeat it. */
function stripNotice(url: URL, route: string): string {
  const query = new URLSearchParams(url.search);
  query.delete('done');
  query.delete('n');
  const text = query.toString();
  return `${route}${text ? `?${text}` : ''}`;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Renders the page at `url` (a dashboard path), or undefined for no such page. */
async function renderView(
  options: ResolvedDashboardOptions,
  state: HandlerState,
  view: View,
  url: URL,
): Promise<Rendered | undefined> {
  const { queue } = options;
  const { roster } = state;
  const route = url.pathname.replace(/\/+$/, '') || '/';
  if (route === '/') {
    const model = await loadOverview(queue, roster, options.queues, state.lastQueues, state.broker, state.history);
    return {
      section: 'overview',
      heading: 'Overview',
      live: html`${overviewLive(view, model)}${transportNote(queue)}`,
    };
  }
  if (route === '/tasks') {
    const filters = taskFilters(url.searchParams);
    const intro = taskFilterForm(view, filters);
    const store = queue.store;
    if (!store?.list)
      return {
        section: 'tasks',
        heading: 'Tasks',
        liveView: false,
        live: html`<p class="empty">${store ? 'This result store has no task index (list()).' : 'The queue has no result store: createQueue({ store }) keeps the tasks this page lists.'}</p>`,
      };
    if (filters.id)
      return {
        section: 'tasks',
        heading: 'Tasks',
        intro,
        live: html`<p class="empty">No task with id ${filters.id}.</p>`,
        status: 404,
      };
    const result = await store.list({
      state: filters.state,
      name: filters.name,
      queue: filters.queue,
      cursor: filters.cursor,
      limit: PAGE_SIZE,
    });
    return {
      section: 'tasks',
      heading: filters.state ? `Tasks: ${filters.state}` : 'Tasks',
      intro,
      live: tasksLive(view, filters, result.items, result.next),
    };
  }
  const taskMatch = /^\/tasks\/([^/]+)$/.exec(route);
  if (taskMatch) {
    const id = safeDecode(taskMatch[1]);
    const status = (await queue.store?.get(id)) ?? null;
    if (!status)
      return {
        section: 'tasks',
        heading: 'Task',
        status: 404,
        live: html`<p class="empty">No task with id ${id} in the result store (unknown, or pruned after its retention).</p>`,
      };
    const workers = status.workerId === undefined ? [] : await roster.list();
    const worker = workers.find((w) => w.id === status.workerId);
    return {
      section: 'tasks',
      heading: `Task ${status.name}`,
      intro: html`<p class="muted"><code class="id">${status.id}</code> · <a href="${view.base}/tasks${queryOf({ name: status.name })}">all ${status.name} tasks</a></p>`,
      live: taskLive(view, status, options.redact, worker),
    };
  }
  if (route === '/dead')
    return { section: 'dead', heading: 'Dead letters', live: deadLive(view, await loadDead(queue)) };
  if (route === '/workers')
    return { section: 'workers', heading: 'Workers', live: workersLive(view, await loadWorkers(queue, roster)) };
  if (route === '/schedules' && options.schedules)
    return {
      section: 'schedules',
      heading: 'Schedules',
      live: schedulesLive(view, await loadSchedules(options.schedules, queue), queue.store !== undefined),
    };
  return undefined;
}

function sendAsset(
  request: IncomingMessage,
  response: ServerResponse,
  asset: Asset | undefined,
  versioned: boolean,
): void {
  if (!asset) {
    sendHtml(response, 404, errorPage(404, undefined, 'No such file.'));
    return;
  }
  const gzip = /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
  const body = gzip ? asset.gzip : asset.body;
  writeHead(response, 200, {
    'content-type': asset.type,
    'content-length': String(body.length),
    'cache-control': versioned ? 'public, max-age=31536000, immutable' : 'no-cache',
    vary: 'accept-encoding',
    ...(gzip ? { 'content-encoding': 'gzip' } : {}),
  });
  response.end(request.method === 'HEAD' ? undefined : body);
}

async function post(
  options: ResolvedDashboardOptions,
  state: HandlerState,
  request: IncomingMessage,
  response: ServerResponse,
  base: string,
  route: string,
  principal: DashboardPrincipal,
  cookieToken: string | undefined,
): Promise<void> {
  const action = /^\/actions\/([a-z]+)$/.exec(route)?.[1];
  if (!action) {
    sendHtml(response, 404, errorPage(404, undefined, 'No such action.'));
    return;
  }
  if (options.readOnly) {
    const error = new DashboardReadOnlyError(action);
    options.logger.warn('taskq dashboard: action refused (read-only)', { action, by: principal });
    sendHtml(response, 403, errorPage(403, error.code, error.message));
    return;
  }
  const fields = await formFields(request);
  const given = request.headers[CSRF_HEADER];
  const token = typeof given === 'string' ? given : (fields.get('_csrf') ?? undefined);
  // The browser says where the request came from: another site's is refused even with a token.
  const site = request.headers['sec-fetch-site'];
  if (!sameToken(cookieToken, token) || (site !== undefined && site !== 'same-origin' && site !== 'none')) {
    const error = new DashboardCsrfError(
      'This action did not come with the CSRF token of a dashboard page (or came from another site); reload the page and try again.',
    );
    options.logger.warn('taskq dashboard: action refused (CSRF)', { action, by: principal });
    sendHtml(response, 403, errorPage(403, error.code, error.message));
    return;
  }
  const outcome = await runAction(options, action, fields, principal);
  state.broker.clear();
  if (outcome.status !== 303) {
    sendHtml(response, outcome.status, errorPage(outcome.status, undefined, outcome.message));
    return;
  }
  const back = fields.get('back') ?? '/';
  const safeBack = /^\/(?![/\\])[^\\\s]*$/.test(back) ? back : '/';
  const joiner = safeBack.includes('?') ? '&' : '?';
  redirect(
    response,
    `${base}${safeBack}${joiner}done=${outcome.notice}${outcome.n === undefined ? '' : `&n=${outcome.n}`}`,
  );
}
