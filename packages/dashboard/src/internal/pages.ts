import type { TaskQueue } from '@taskq/core';
import type { AttemptOutcome, AttemptRecord } from '@taskq/core';
import type { DeadLetterRecord, StoredStatus } from '@taskq/core/adapter';
import type { RedactContext } from '../options.js';
import { minuteChart } from './chart.js';
import { count, durationText, progressText, timeText } from './format.js';
import { type Html, html, jsonText } from './html.js';
import { actionForm, type View } from './layout.js';
import { type DeadModel, type Overview, STATES, type TaskFilters, type WorkersModel } from './model.js';

function time(at: Date | number | undefined): Html {
  if (at === undefined) return html``;
  const date = typeof at === 'number' ? new Date(at) : at;
  return html`<time datetime="${date.toISOString()}">${timeText(date)}</time>`;
}

function state(value: string): Html {
  return html`<span class="state state-${value}">${value}</span>`;
}

function taskLink(view: View, id: string): Html {
  return html`<a class="id" href="${view.base}/tasks/${encodeURIComponent(id)}">${id}</a>`;
}

function tableOf(caption: string, head: readonly string[], rows: readonly Html[], empty: string): Html {
  if (rows.length === 0) return html`<p class="empty">${empty}</p>`;
  return html`<div class="table-wrap"><table><caption class="visually-hidden">${caption}</caption>
<thead><tr>${head.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead>
<tbody>${rows}</tbody></table></div>`;
}

/** The overview's live part: a card per queue. */
export function overviewLive(view: View, model: Overview): Html {
  const cards = model.queues.map((q) => {
    const noWorkers = q.workers === 0 && q.consumers === 0;
    return html`<section class="card queue" aria-labelledby="q-${q.name}">
<header><h2 id="q-${q.name}">${q.name}</h2>${q.paused ? html`<span class="badge paused">paused</span>` : ''}
${q.paused ? actionForm(view, 'resume', { queue: q.name }, 'Resume') : actionForm(view, 'pause', { queue: q.name }, 'Pause')}</header>
${noWorkers ? html`<p class="warning" role="alert">No workers: nothing consumes this queue${q.depth > 0 ? `, and ${count(q.depth)} task${q.depth === 1 ? ' waits' : 's wait'}` : ''}.</p>` : ''}
<dl class="stats">
<div><dt>Depth</dt><dd>${count(q.depth)}</dd></div>
<div><dt>Consumers</dt><dd>${count(q.consumers)}</dd></div>
<div><dt>Running</dt><dd>${count(q.running)}</dd></div>
<div><dt>Done/h</dt><dd>${count(q.minutes.reduce((s, m) => s + m.succeeded, 0))}</dd></div>
<div><dt>Failed/h</dt><dd>${count(q.minutes.reduce((s, m) => s + m.dead, 0))}</dd></div>
</dl>
${model.history ? minuteChart(q) : html`<p class="empty">This result store keeps no per-minute counts.</p>`}
<p class="links"><a href="${view.base}/tasks?queue=${encodeURIComponent(q.name)}">Tasks of ${q.name}</a></p>
</section>`;
  });
  return html`<p class="summary"><a href="${view.base}/workers">${count(model.workers)} live worker${model.workers === 1 ? '' : 's'}</a> ·
<a href="${view.base}/dead">${count(model.deadLetters)} dead letter${model.deadLetters === 1 ? '' : 's'}</a></p>
<div class="cards">${cards}</div>`;
}

/** The filter form of the tasks page (outside the live part, so typing is never interrupted). */
export function taskFilterForm(view: View, filters: TaskFilters): Html {
  return html`<nav class="tabs" aria-label="Task states"><ul>
<li><a href="${view.base}/tasks${queryOf({ ...filters, state: undefined, cursor: undefined })}"${filters.state === undefined ? html` aria-current="page"` : ''}>All</a></li>
${STATES.map(
  (s) =>
    html`<li><a href="${view.base}/tasks${queryOf({ ...filters, state: s, cursor: undefined })}"${filters.state === s ? html` aria-current="page"` : ''}>${s}</a></li>`,
)}</ul></nav>
<form class="filters" method="get" action="${view.base}/tasks" role="search">
${filters.state ? html`<input type="hidden" name="state" value="${filters.state}">` : ''}
<label>Task name <input name="name" value="${filters.name ?? ''}" placeholder="mail.sendWelcomeMail" autocomplete="off"></label>
<label>Queue <input name="queue" value="${filters.queue ?? ''}" placeholder="default" autocomplete="off"></label>
<label>Task id <input name="id" value="${filters.id ?? ''}" placeholder="0190…" autocomplete="off" spellcheck="false"></label>
<button type="submit">Filter</button>
<a class="button plain" href="${view.base}/tasks">Clear</a>
</form>`;
}

export function queryOf(filters: TaskFilters): string {
  const query = new URLSearchParams();
  for (const key of ['state', 'name', 'queue', 'id', 'cursor'] as const) {
    const value = filters[key];
    if (value) query.set(key, value);
  }
  const text = query.toString();
  return text ? `?${text}` : '';
}

/** The tasks page's live part: one page of the task index. */
export function tasksLive(
  view: View,
  filters: TaskFilters,
  items: readonly StoredStatus[],
  next: string | undefined,
): Html {
  const rows = items.map(
    (t) => html`<tr><td>${taskLink(view, t.id)}</td><td>${t.name}</td><td>${t.queue}</td><td>${state(t.state)}</td>
<td class="num">${t.attempts}</td><td>${time(t.enqueuedAt)}</td><td>${progressCell(t.progress)}</td></tr>`,
  );
  return html`${tableOf('Tasks, newest first', ['Id', 'Task', 'Queue', 'State', 'Attempts', 'Enqueued', 'Progress'], rows, 'No task matches.')}
<nav class="pager" aria-label="Pages">${filters.cursor ? html`<a href="${view.base}/tasks${queryOf({ ...filters, cursor: undefined })}">Newest</a>` : ''}
${next ? html`<a rel="next" href="${view.base}/tasks${queryOf({ ...filters, cursor: next })}">Older →</a>` : ''}</nav>`;
}

function progressCell(progress: unknown): Html {
  if (typeof progress === 'number')
    return html`<progress max="100" value="${Math.max(0, Math.min(100, progress))}" aria-label="Progress">${progressText(progress)}</progress> ${progressText(progress)}`;
  return html`${progressText(progress)}`;
}

/** The task page's live part. */
export function taskLive(
  view: View,
  task: StoredStatus,
  redact: (value: unknown, context: RedactContext) => unknown,
  worker: { host: string; pid: number } | undefined,
): Html {
  const context = { id: task.id, task: task.name };
  const finished = task.state === 'succeeded' || task.state === 'dead' || task.state === 'cancelled';
  let result: Html = html``;
  if (task.result !== undefined) {
    let value: unknown;
    try {
      value = (JSON.parse(task.result) as unknown[])[0];
    } catch {
      value = task.result;
    }
    result = html`<section aria-labelledby="result-h"><h2 id="result-h">Result</h2><pre class="value">${jsonText(redact(value, { ...context, part: 'result' }))}</pre></section>`;
  }
  const actions = [
    task.state === 'dead'
      ? actionForm(view, 'retry', { id: task.id }, 'Retry', { title: 'Send its dead letter back' })
      : '',
    !finished
      ? actionForm(view, 'cancel', { id: task.id }, 'Cancel', { kind: 'danger', confirm: 'Cancel this task?' })
      : '',
  ];
  return html`<div class="task-head">${state(task.state)}${task.state === 'active' && task.lost ? html` <span class="badge paused">worker lost</span>` : ''}
<div class="actions">${actions}</div></div>
<dl class="facts">
<div><dt>Task</dt><dd>${task.name}</dd></div>
<div><dt>Queue</dt><dd><a href="${view.base}/tasks?queue=${encodeURIComponent(task.queue)}">${task.queue}</a></dd></div>
<div><dt>Attempts</dt><dd>${task.attempts}${task.deliveries > task.attempts ? ` (${task.deliveries} deliveries)` : ''}</dd></div>
<div><dt>Ran on</dt><dd>${task.workerId === undefined ? '—' : worker ? html`${worker.host} pid ${worker.pid} <span class="muted">(${task.workerId})</span>` : html`${task.workerId} <span class="muted">(not live)</span>`}</dd></div>
</dl>
${task.progress !== undefined ? html`<section aria-labelledby="progress-h"><h2 id="progress-h">Progress</h2><p>${progressCell(task.progress)}</p></section>` : ''}
<section aria-labelledby="timeline-h"><h2 id="timeline-h">Timeline</h2>
<ol class="timeline">${timeline(task)}</ol></section>
${
  task.error
    ? html`<section aria-labelledby="error-h"><h2 id="error-h">${task.state === 'dead' ? 'Error' : 'Last error'}</h2>
<p class="error-message">${task.error.code ?? task.error.name ?? 'Error'}: ${task.error.message}</p>
${task.error.stack ? html`<details open><summary>Stack</summary><pre class="stack">${task.error.stack}</pre></details>` : ''}</section>`
    : ''
}
<section aria-labelledby="args-h"><h2 id="args-h">Arguments</h2>${
    task.args === undefined
      ? html`<p class="empty">Not kept: create the result store with <code>keepArgs: true</code> to see arguments here.</p>`
      : html`<pre class="value">${jsonText(redact(task.args, { ...context, part: 'args' }))}</pre>`
  }</section>
${result}`;
}

function timeline(task: StoredStatus): Html[] {
  const steps: Html[] = [html`<li><span class="when">${time(task.enqueuedAt)}</span> Enqueued</li>`];
  const history = task.history;
  if (!history || history.length === 0) return [...steps, ...latestAttempt(task)];
  const dropped = task.deliveries - history.length;
  if (dropped > 0)
    steps.push(
      html`<li class="muted">${dropped} earlier start${dropped === 1 ? ' is' : 's are'} not kept (the store keeps the latest ${history.length})</li>`,
    );
  history.forEach((attempt, i) => {
    const waited = i === 0 && dropped <= 0 ? attempt.startedAt.getTime() - task.enqueuedAt.getTime() : undefined;
    steps.push(attemptStep(attempt, waited, task.state === 'active' && task.lost === true));
  });
  if (task.state === 'retrying') steps.push(html`<li class="muted">Waiting for attempt ${task.attempts + 1}</li>`);
  // Cancelled while it waited (a cancel during a run ends that run's step instead).
  if (task.state === 'cancelled' && history.at(-1)?.outcome !== 'cancelled')
    steps.push(html`<li class="bad"><span class="when">${time(task.finishedAt)}</span> Cancelled</li>`);
  return steps;
}

/** The dot's colour of each outcome in the timeline. */
const TONES: Record<AttemptOutcome, string> = {
  running: 'running',
  succeeded: 'ok',
  failed: 'bad',
  dead: 'bad',
  cancelled: 'bad',
  lost: 'lost',
};

/** One start in the timeline: when, how it ended after how long, where, and its error with the stack on demand. */
function attemptStep(attempt: AttemptRecord, waitedMs: number | undefined, workerLost: boolean): Html {
  const outcome = attempt.outcome === 'running' && workerLost ? 'lost' : attempt.outcome;
  const after = attempt.durationMs === undefined ? '' : ` after ${durationText(attempt.durationMs)}`;
  const text: Record<AttemptOutcome, string> = {
    running: `running for ${durationText(Date.now() - attempt.startedAt.getTime())} so far`,
    succeeded: `succeeded${after}`,
    failed: `failed${after}, retried`,
    dead: `failed${after}, dead-lettered`,
    cancelled: `cancelled${after}`,
    lost: 'no outcome recorded (its worker stopped)',
  };
  const where = attempt.worker;
  const place =
    where?.host !== undefined ? html` on ${where.host}${where.pid === undefined ? '' : ` pid ${where.pid}`}` : '';
  const error = attempt.error;
  return html`<li class="attempt ${TONES[outcome]}" data-outcome="${outcome}"><span class="when">${time(attempt.startedAt)}</span>
<strong>Attempt ${attempt.attempt}</strong> ${text[outcome]}${place}${waitedMs === undefined ? '' : html` <span class="muted">(waited ${durationText(waitedMs)} in the queue)</span>`}
${
  error
    ? html`<p class="error-message">${error.code ?? error.name ?? 'Error'}: ${error.message}</p>${error.stack ? html`<details><summary>Stack</summary><pre class="stack">${error.stack}</pre></details>` : ''}`
    : ''
}</li>`;
}

/** The timeline of a store that keeps no history: the latest start and its end. */
function latestAttempt(task: StoredStatus): Html[] {
  const steps: Html[] = [];
  if (task.attempts > 1)
    steps.push(
      html`<li class="muted">Attempts 1–${task.attempts - 1} failed${task.deliveries > task.attempts ? '; some were redelivered' : ''} (this store keeps the latest attempt only)</li>`,
    );
  if (task.startedAt) {
    const waited = task.attempts <= 1 ? task.startedAt.getTime() - task.enqueuedAt.getTime() : undefined;
    steps.push(
      html`<li><span class="when">${time(task.startedAt)}</span> Attempt ${Math.max(1, task.attempts)} started${waited === undefined ? '' : ` after ${durationText(waited)} in the queue`}</li>`,
    );
  }
  if (task.state === 'retrying' && task.error)
    steps.push(
      html`<li class="bad">Attempt ${task.attempts} failed: ${task.error.message}; waiting for the next one</li>`,
    );
  if (task.finishedAt) {
    const ran = task.startedAt ? ` after ${durationText(task.finishedAt.getTime() - task.startedAt.getTime())}` : '';
    const what =
      task.state === 'succeeded'
        ? `Succeeded${ran}`
        : task.state === 'dead'
          ? `Failed for good${ran}: dead-lettered`
          : 'Cancelled';
    steps.push(
      html`<li class="${task.state === 'succeeded' ? 'ok' : 'bad'}"><span class="when">${time(task.finishedAt)}</span> ${what}</li>`,
    );
  }
  return steps;
}

/** The dead-letter page's live part. */
export function deadLive(view: View, model: DeadModel): Html {
  const rows = model.letters.map(
    (
      d: DeadLetterRecord,
    ) => html`<tr><td>${d.id ? taskLink(view, d.id) : '(no id)'}</td><td>${d.task ?? '—'}</td><td>${d.queue ?? '—'}</td>
<td><span class="badge">${d.reason}</span></td><td class="num">${d.attempts ?? '—'}</td><td>${time(d.deadAt)}</td>
<td class="error-cell">${d.error === undefined ? '' : d.error.split('\n')[0]}${d.errorStack ? html`<details><summary>Stack</summary><pre class="stack">${d.errorStack}</pre></details>` : ''}</td>
<td>${d.id && !d.truncated && d.queue ? actionForm(view, 'retry', { id: d.id }, 'Retry') : ''}</td></tr>`,
  );
  return html`<div class="toolbar"><p>${count(model.total)} dead letter${model.total === 1 ? '' : 's'}${model.total > model.letters.length ? `, the oldest ${model.letters.length} shown` : ''}.</p>
${
  model.total > 0
    ? html`<div class="actions">${actionForm(view, 'retry', { all: '1' }, 'Retry all', { confirm: 'Send every dead letter back to its queue?' })}
${actionForm(view, 'purge', {}, 'Purge all', { kind: 'danger', confirm: 'Delete every dead letter for good?' })}</div>`
    : ''
}</div>
${tableOf('Dead letters, oldest first', ['Id', 'Task', 'Queue', 'Reason', 'Attempts', 'Dead since', 'Error', ''], rows, 'No dead letters.')}`;
}

/** The workers page's live part. */
export function workersLive(view: View, model: WorkersModel): Html {
  const rows = model.workers.map((w) => {
    const tasks = model.running.get(w.id) ?? [];
    return html`<tr><td><code>${w.id}</code></td><td>${w.host}</td><td class="num">${w.pid}</td><td>${w.queues.join(', ')}</td>
<td class="num">${w.running} / ${w.concurrency}</td><td>${w.version}</td><td>${time(w.startedAt)}</td>
<td>${time(model.lastHeard.get(w.id))}<br><span class="muted small">every ${durationText(w.intervalMs)}</span></td>
<td>${tasks.length === 0 ? '' : html`<ul class="plain">${tasks.slice(0, 10).map((t) => html`<li>${taskLink(view, t.id)} ${t.name}</li>`)}</ul>`}</td></tr>`;
  });
  return tableOf(
    'Live workers',
    ['Id', 'Host', 'Pid', 'Queues', 'Running', 'Version', 'Started', 'Heartbeat', 'Running tasks'],
    rows,
    'No live worker: none sent a heartbeat lately.',
  );
}

/** Facts about the queue shown under the overview. */
export function transportNote(queue: TaskQueue): Html {
  return html`<p class="muted small">Transport: ${queue.transport.kind}${queue.transport.prefix ? ` (prefix ${queue.transport.prefix})` : ''}${queue.transport.durable ? '' : ', not durable'}; result store: ${queue.store ? 'yes' : 'none'}.</p>`;
}
