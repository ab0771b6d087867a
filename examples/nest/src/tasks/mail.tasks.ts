import { Inject, Injectable } from '@nestjs/common';
import type { UrlHelpers } from '@taskq/core';
import { type User, welcomeMail } from '@taskq/example-story';
import { Task } from '@taskq/nest';
import { Mailer } from '../deliveries.js';

/**
 * Tasks are provider methods marked with @Task(); otherwise plain: `this.mail.sendWelcomeMail(user, urls)` runs it
 * inline.
 */
@Injectable()
export class MailTasks {
  constructor(@Inject(Mailer) private readonly mailer: Mailer) {}

  /**
   * Generates and sends a welcome mail to a new user, with an absolute link
   * built from the request that registered them. In the worker `user` is the
   * committed row, loaded again, and `request` is rebuilt from its URL context.
   */
  @Task({ id: 'mail.sendWelcomeMail', attempts: 3 })
  async sendWelcomeMail(user: User, request: UrlHelpers): Promise<string> {
    const { profile, message } = welcomeMail(user, request);
    await this.mailer.send(message);
    return profile;
  }
}
