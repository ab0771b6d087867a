import { appendFile } from 'node:fs/promises';
import { Inject, Injectable } from '@nestjs/common';
import { CONFIG, type Config } from './config.js';

/** A mail or push message as the example "sends" it: to a file (JSON lines) or the console, never the network. */
export interface Delivery {
  readonly to: string;
  readonly subject?: string;
  readonly text: string;
}

async function deliver(kind: 'mail' | 'push', file: string | undefined, message: Delivery): Promise<void> {
  if (file) await appendFile(file, `${JSON.stringify({ kind, ...message, sentAt: new Date().toISOString(), pid: process.pid })}\n`);
  else console.log(`[${kind}] to ${message.to}${message.subject ? ` "${message.subject}"` : ''}:\n${message.text}\n`);
}

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
