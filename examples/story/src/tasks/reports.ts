import { currentTask } from '@taskq/core';
import { currentEntityManager } from '@taskq/typeorm';
import { User } from '../user.js';

/**
 * A slow report: takes a while (so its status can be watched) and counts the registered users in its own transaction.
 */
export async function buildMonthlyReport(month: string): Promise<{ month: string; users: number }> {
  const { signal } = currentTask();
  for (let step = 0; step < 4; step++) {
    signal.throwIfAborted();
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const users = await currentEntityManager().count(User);
  return { month, users };
}
