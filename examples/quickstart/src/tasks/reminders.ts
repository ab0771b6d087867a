import { mailer } from '../mailer.js';
import { log } from '../request-context.js';

/** Sends a reminder; the demo submits it with a delay. */
export async function sendReminder(email: string, text: string): Promise<string> {
  log(`reminder for ${email}`);
  return mailer.send(email, text);
}
