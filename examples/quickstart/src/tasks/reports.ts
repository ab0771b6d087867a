import { maybeCurrentTask } from '@taskq/core';
import { log } from '../request-context.js';

/**
 * Renders a monthly report. To show retries, the first attempt in a worker
 * fails as if the reporting database had timed out; called directly (outside
 * a worker) it just works.
 */
export async function renderMonthlyReport(month: string): Promise<string> {
  const task = maybeCurrentTask();
  if (task?.attempt === 1) throw new Error(`reporting database timed out while rendering ${month} (simulated)`);
  log(`rendering the report for ${month}`);
  return `report-${month}.pdf`;
}
