import { BadRequestException, Body, Controller, Get, Inject, InternalServerErrorException, NotFoundException, Param, ParseIntPipe, Post, Query } from '@nestjs/common';
import type { TaskQueue, TaskRequest } from '@taskq/core';
import { Accepted, CurrentTransaction, InjectQueue, RequestUrls } from '@taskq/nest';
import type { RequestTransaction } from '@taskq/typeorm';
import { DataSource } from 'typeorm';
import { MailTasks } from './mail.tasks.js';
import { User } from './user.entity.js';

/** The essay's register_user, in Nest. */
@Controller('users')
export class UsersController {
  constructor(
    @InjectQueue() private readonly queue: TaskQueue,
    @Inject(MailTasks) private readonly mail: MailTasks,
    @Inject(DataSource) private readonly dataSource: DataSource,
  ) {}

  /**
   * Saves the user and submits the welcome mail in the request's transaction:
   * both are committed together, then the client gets `202 Accepted` with
   * the task's status URL. `?fail=after-submit` throws after the submit, like
   * the essay's typo: the row and the task are both dropped.
   */
  @Post()
  @Accepted()
  async register(
    @Body() body: { name?: unknown; email?: unknown },
    @Query('fail') fail: string | undefined,
    @CurrentTransaction() tx: RequestTransaction,
    @RequestUrls() urls: TaskRequest,
  ) {
    if (typeof body?.name !== 'string' || typeof body.email !== 'string' || !body.email.includes('@')) {
      throw new BadRequestException('expected { "name": string, "email": string }');
    }
    const user = await tx.manager.save(tx.manager.create(User, { name: body.name, email: body.email, welcomedAt: null }));
    const task = await this.queue.submit(this.mail.sendWelcome, user, urls);
    if (fail === 'after-submit') {
      throw new InternalServerErrorException(`failing on purpose after the submit: user ${user.email} and task ${task.id} are rolled back`);
    }
    return task;
  }

  @Get(':id')
  async find(@Param('id', ParseIntPipe) id: number): Promise<User> {
    const user = await this.dataSource.manager.findOneBy(User, { id });
    if (!user) throw new NotFoundException(`no user ${id}`);
    return user;
  }

  @Get()
  list(@Query('email') email: string | undefined): Promise<User[]> {
    return this.dataSource.manager.find(User, { where: email === undefined ? {} : { email }, order: { id: 'ASC' } });
  }
}
