import { Inject, Injectable } from '@nestjs/common';
import { type Delivery, deliver } from '@taskq/example-story';
import { CONFIG, type Config } from './config.js';

/** The mail transport (`MAIL_FILE` or the console): the injected dependency of MailTasks. */
@Injectable()
export class Mailer {
  constructor(@Inject(CONFIG) private readonly config: Config) {}

  send(message: Delivery): Promise<void> {
    return deliver('mail', this.config.mailFile, message);
  }
}

/** The push transport (`PUSH_FILE` or the console). */
@Injectable()
export class PushSender {
  constructor(@Inject(CONFIG) private readonly config: Config) {}

  send(message: Delivery): Promise<void> {
    return deliver('push', this.config.pushFile, message);
  }
}
