import { appendFile } from 'node:fs/promises';
import { readConfig } from './config.js';

/** A mail or push message as the example "sends" it: to a file (JSON lines) or the console, never the network. */
export interface Delivery {
  readonly to: string;
  readonly subject?: string;
  readonly text: string;
}

/** Something that sends {@link Delivery | deliveries}: the mail and push transports. */
export interface Sender {
  send(message: Delivery): Promise<void>;
}

/**
 * Appends `message` to `file` as a JSON line (with the sending process's pid, so a test can tell which process
 * ran the task), or prints it when `file` is unset.
 */
export async function deliver(kind: 'mail' | 'push', file: string | undefined, message: Delivery): Promise<void> {
  if (file)
    await appendFile(
      file,
      `${JSON.stringify({ kind, ...message, sentAt: new Date().toISOString(), pid: process.pid })}\n`,
    );
  else console.log(`[${kind}] to ${message.to}${message.subject ? ` "${message.subject}"` : ''}:\n${message.text}\n`);
}

/** The mail transport: `MAIL_FILE` or the console. */
export const mailer: Sender = { send: (message) => deliver('mail', readConfig().mailFile, message) };

/** The push transport: `PUSH_FILE` or the console. */
export const push: Sender = { send: (message) => deliver('push', readConfig().pushFile, message) };
