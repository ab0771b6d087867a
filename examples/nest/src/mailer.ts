import { appendFileSync } from 'node:fs';
import { Injectable, Logger } from '@nestjs/common';

/** Stands in for an SMTP client: prints the mail (and appends it to `MAIL_LOG` when set, for the tests). */
@Injectable()
export class Mailer {
  readonly #logger = new Logger('Mailer');

  async send(to: string, subject: string, body: string): Promise<void> {
    const line = `mail to ${to}: ${subject} ${body}`;
    this.#logger.log(line);
    if (process.env.MAIL_LOG) appendFileSync(process.env.MAIL_LOG, `${line}\n`);
  }
}
