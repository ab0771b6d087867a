import { type Schedule, type TaskQueue, tickId } from '@taskq/core';
import type { StoredStatus } from '@taskq/core/adapter';
import { durationText, timeText } from './format.js';
import { type Html, html } from './html.js';
import type { View } from './layout.js';

/** Next run times shown per schedule. */
export const NEXT_RUNS = 3;

/** One schedule as the schedules page shows it. */
export interface ScheduleRow {
  readonly schedule: Schedule;
  /** The registry id of its task, when the queue's registry knows the function. */
  readonly task: string | undefined;
  readonly next: readonly Date[];
  /** The latest tick by the spec, its task id, and that task's stored status (null: not in the store). */
  readonly last?: { readonly tick: Date; readonly id: string; readonly status: StoredStatus | null };
}

/**
 * Each schedule with its next runs and its latest tick (by the spec, before now) looked up in the store by the tick's
 * task id: one store read per schedule, side by side.
 */
export function loadSchedules(
  schedules: readonly Schedule[],
  queue: TaskQueue,
  now = new Date(),
): Promise<ScheduleRow[]> {
  return Promise.all(
    schedules.map(async (schedule): Promise<ScheduleRow> => {
      const task = queue.registry.lookup(schedule.fn)?.id;
      const next = schedule.next(now, NEXT_RUNS);
      const tick = schedule.last(now);
      if (!tick) return { schedule, task, next };
      const id = tickId(schedule.id, tick.getTime());
      const status = queue.store ? await queue.store.get(id) : null;
      return { schedule, task, next, last: { tick, id, status } };
    }),
  );
}

/** How a schedule's spec reads: `0 3 * * * (Europe/Berlin)` or `every 15m`. */
export function specText(schedule: Schedule): string {
  const spec = schedule.spec;
  if ('cron' in spec && spec.cron !== undefined) return `${spec.cron} (${spec.tz ?? 'UTC'})`;
  if ('every' in spec && spec.every !== undefined) {
    const every = typeof spec.every === 'number' ? durationText(spec.every) : spec.every;
    return `every ${every}${spec.anchor ? ` from ${timeText(spec.anchor)}` : ''}`;
  }
  return '';
}

function time(at: Date): Html {
  return html`<time datetime="${at.toISOString()}">${timeText(at)}</time>`;
}

/** The schedules page's live part. */
export function schedulesLive(view: View, rows: readonly ScheduleRow[], hasStore: boolean): Html {
  if (rows.length === 0) return html`<p class="empty">No schedules.</p>`;
  const body = rows.map((row) => {
    const { schedule, last } = row;
    const overlap = schedule.spec.overlap === false;
    return html`<tr data-schedule="${schedule.id}"><th scope="row">${schedule.id}</th><td>${row.task ?? schedule.fn.name}</td>
<td><code>${specText(schedule)}</code>${schedule.spec.queue ? html`<br><span class="muted small">queue ${schedule.spec.queue}</span>` : ''}</td>
<td>${overlap ? 'skipped while the last runs' : 'allowed'}</td>
<td class="next-runs"><ul class="plain">${row.next.map((at) => html`<li>${time(at)}</li>`)}</ul></td>
<td class="last-tick">${last ? lastTick(view, last, hasStore) : html`<span class="muted">none yet</span>`}</td></tr>`;
  });
  return html`<div class="table-wrap"><table><caption class="visually-hidden">Schedules</caption>
<thead><tr><th scope="col">Schedule</th><th scope="col">Task</th><th scope="col">When</th><th scope="col">Overlap</th><th scope="col">Next runs</th><th scope="col">Last tick</th></tr></thead>
<tbody>${body}</tbody></table></div>
<p class="muted small">The last tick is the latest time the spec gave before now; its task is found by the tick's id (<code>tickId(schedule, tick)</code>). Times are computed here, whether or not a scheduler runs.</p>`;
}

function lastTick(view: View, last: NonNullable<ScheduleRow['last']>, hasStore: boolean): Html {
  const link = html`<a class="id" href="${view.base}/tasks/${encodeURIComponent(last.id)}">${last.id}</a>`;
  const state = last.status
    ? html`<span class="state state-${last.status.state}">${last.status.state}</span>`
    : html`<span class="muted">${hasStore ? 'not in the store (not fired, skipped, or pruned)' : 'no result store'}</span>`;
  return html`${time(last.tick)}<br>${state} ${last.status ? link : ''}`;
}
