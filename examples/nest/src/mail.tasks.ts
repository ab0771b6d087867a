import { Injectable, Module } from '@nestjs/common';
import type { UrlHelpers } from '@taskq/core';
import { Task } from '@taskq/nest';
import { currentEntityManager } from '@taskq/typeorm';
import { Mailer } from './mailer.js';
import type { User } from './user.entity.js';

/**
 * The tasks: methods of a provider, marked with @Task() and otherwise plain.
 * `this.mail.sendWelcome(user, urls)` runs it right here; submitted, a
 * worker runs it on its own MailTasks, with its own Mailer.
 */
@Injectable()
export class MailTasks {
  constructor(private readonly mailer: Mailer) {}

  /**
   * Welcomes a new user. In the worker, `user` is the committed row, loaded
   * through the task's transaction, and `request` builds the same links the
   * handler would.
   */
  @Task({ attempts: 3, backoff: { type: 'exponential', delay: 500 } })
  async sendWelcome(user: User, request: UrlHelpers): Promise<string> {
    const profile = request.routeUrl('user', { id: user.id });
    await this.mailer.send(user.email, `Welcome, ${user.name}!`, `Your profile: ${profile}`);
    user.welcomedAt = new Date().toISOString();
    // The task's own transaction (typeormTransaction middleware): committed when the task returns.
    await currentEntityManager().save(user);
    return profile;
  }
}

@Module({ providers: [Mailer, MailTasks], exports: [MailTasks] })
export class MailModule {}
