import type { DashboardPrincipal, ResolvedDashboardOptions } from '../options.js';

/** What an action did: a redirect with a notice, or an error status. */
export type ActionOutcome =
  | { readonly status: 303; readonly notice: string; readonly n?: number }
  | { readonly status: 400 | 404; readonly message: string };

const MAX_FIELD = 200;

function field(fields: URLSearchParams, name: string): string | undefined {
  const value = fields.get(name)?.trim();
  return value && value.length <= MAX_FIELD ? value : undefined;
}

/** Runs one action through the queue's public API and logs who did it. */
export async function runAction(
  options: ResolvedDashboardOptions,
  action: string,
  fields: URLSearchParams,
  by: DashboardPrincipal,
): Promise<ActionOutcome> {
  const { queue, logger } = options;
  const log = (target: string, result: unknown): void =>
    logger.info(`taskq dashboard: ${action} ${target}`, { action, target, result, by });
  switch (action) {
    case 'retry': {
      const all = fields.get('all') === '1';
      const id = field(fields, 'id');
      if (!all && !id) return { status: 400, message: 'retry needs a task id, or all.' };
      const sent = await queue.transport.dead.retry(all ? 'all' : (id as string));
      log(all ? 'all dead letters' : (id as string), { sent });
      return sent > 0 ? { status: 303, notice: 'retried', n: sent } : { status: 303, notice: 'not-retried' };
    }
    case 'cancel': {
      const id = field(fields, 'id');
      if (!id) return { status: 400, message: 'cancel needs a task id.' };
      const cancelled = await queue.cancel(id);
      log(id, { cancelled });
      return { status: 303, notice: cancelled ? 'cancelled' : 'not-cancelled' };
    }
    case 'pause':
    case 'resume': {
      const name = field(fields, 'queue');
      if (!name) return { status: 400, message: `${action} needs a queue name.` };
      await (action === 'pause' ? queue.pause(name) : queue.resume(name));
      log(name, { paused: action === 'pause' });
      return { status: 303, notice: action === 'pause' ? 'paused' : 'resumed' };
    }
    case 'purge': {
      const purged = await queue.transport.dead.purge();
      log('all dead letters', { purged });
      return { status: 303, notice: 'purged', n: purged };
    }
    default:
      return { status: 404, message: 'No such action.' };
  }
}
