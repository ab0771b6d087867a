import { Body, Controller, Get, HttpCode, Inject, NotFoundException, Param, ParseIntPipe, Post } from '@nestjs/common';
import type { TaskQueue, TaskRequest } from '@taskq/core';
import { User } from '@taskq/example-story';
import { Accepted, InjectQueue, RequestUrls } from '@taskq/nest';
import { InjectTransactionalRepository } from '@taskq/nest/typeorm';
import type { Repository } from 'typeorm';
import { MailTasks } from './tasks/mail.tasks.js';
import { PushTasks } from './tasks/push.tasks.js';
import { ReportTasks } from './tasks/report.tasks.js';

interface Registration {
  readonly email: string;
  readonly name?: string;
}

/**
 * The essay's views on Nest. Every request that writes runs in a database transaction its tasks join; the users
 * repository joins it too, so a failing request takes back both its rows and its tasks.
 */
@Controller()
export class AppController {
  constructor(
    @InjectQueue() private readonly queue: TaskQueue,
    @Inject(MailTasks) private readonly mail: MailTasks,
    @Inject(PushTasks) private readonly push: PushTasks,
    @Inject(ReportTasks) private readonly reports: ReportTasks,
    @InjectTransactionalRepository(User) private readonly users: Repository<User>,
  ) {}

  @Post('register')
  async register(@Body() body: Registration, @RequestUrls() urls: TaskRequest) {
    const user = await this.users.save(
      this.users.create({ email: String(body.email), name: String(body.name ?? body.email) }),
    );
    const task = await this.queue.submit(this.mail.sendWelcomeMail, user, urls);
    return { user, task: task.id };
  }

  /** The essay's bug: an error after the submit. The user is not created and no welcome mail goes out. */
  @Post('register-broken')
  async registerBroken(@Body() body: Registration, @RequestUrls() urls: TaskRequest) {
    const user = await this.users.save(
      this.users.create({ email: String(body.email), name: String(body.name ?? body.email) }),
    );
    await this.queue.submit(this.mail.sendWelcomeMail, user, urls);
    // @ts-expect-error `usr` is the essay's typo; TypeScript catches this one, any runtime error after the submit acts the same
    return { user: usr };
  }

  @Post('publish')
  @HttpCode(200)
  async publish(@Body() body: { deviceToken: string; slug: string }, @RequestUrls() urls: TaskRequest) {
    const task = await this.queue.submit(this.push.sendPushMessage, urls, String(body.deviceToken), String(body.slug));
    return { task: task.id };
  }

  /** 202 Accepted, Location: /tasks/<id>, body { task }: the status route follows the report. */
  @Post('reports')
  @Accepted({ retryAfter: 1 })
  createReport(@Body() body: { month?: string }) {
    return this.queue.submit(
      this.reports.buildMonthlyReport,
      String(body.month ?? new Date().toISOString().slice(0, 7)),
    );
  }

  @Get('users/:id')
  async user(@Param('id', ParseIntPipe) id: number): Promise<User> {
    const user = await this.users.findOneBy({ id });
    if (!user) throw new NotFoundException('no such user');
    return user;
  }

  @Get('news/:slug')
  news(@Param('slug') slug: string): { slug: string } {
    return { slug };
  }
}
