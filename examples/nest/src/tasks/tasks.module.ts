import { Module } from '@nestjs/common';
import { Mailer, PushSender } from '../deliveries.js';
import { MailTasks } from './mail.tasks.js';
import { PushTasks } from './push.tasks.js';
import { ReportTasks } from './report.tasks.js';

/** The task providers, the same in the web app (to submit, or call directly) and in the worker (to run). */
@Module({
  providers: [Mailer, PushSender, MailTasks, PushTasks, ReportTasks],
  exports: [MailTasks, PushTasks, ReportTasks],
})
export class TasksModule {}
