import { appendFile } from 'node:fs/promises';
import { readConfig } from './config.js';

/** A mail or push message as the example "sends" it: to a file (JSON lines) or the console, never the network. */
export interface Delivery {
  readonly to: string;
  readonly subject?: string;
  readonly text: string;
}

async function deliver(kind: 'mail' | 'push', file: string | undefined, message: Delivery): Promise<void> {
  if (file) await appendFile(file, `${JSON.stringify({ kind, ...message, sentAt: new Date().toISOString() })}\n`);
  else console.log(`[${kind}] to ${message.to}${message.subject ? ` "${message.subject}"` : ''}:\n${message.text}\n`);
}

/** The mail transport: `MAIL_FILE` or the console. */
export const mailer = { send: (message: Delivery) => deliver('mail', readConfig().mailFile, message) };

/** The push transport: `PUSH_FILE` or the console. */
export const push = { send: (message: Delivery) => deliver('push', readConfig().pushFile, message) };
