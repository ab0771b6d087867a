import { Injectable } from '@nestjs/common';
import { reports } from '@taskq/example-story';
import { Task } from '@taskq/nest';

@Injectable()
export class ReportTasks {
  /**
   * A slow report: takes a while (so its status can be watched) and counts the registered users in its own transaction.
   */
  @Task({ id: 'reports.buildMonthlyReport' })
  async buildMonthlyReport(month: string): Promise<{ month: string; users: number }> {
    return reports.buildMonthlyReport(month);
  }
}
