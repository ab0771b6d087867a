import { mailer } from '../mailer.js';
import { log } from '../request-context.js';

/** A user of the app, as plain data. */
export interface User {
  readonly id: number;
  readonly name: string;
  readonly email: string;
  readonly signedUpAt: Date;
}

/** Welcomes a new user. A plain function: it imports nothing from taskq. */
export async function sendWelcomeMail(user: User): Promise<string> {
  // signedUpAt is a Date again in the worker: the built-in Date codec carried it.
  log(`welcome mail for ${user.email}, signed up ${user.signedUpAt.toISOString().slice(0, 10)}`);
  return mailer.send(user.email, `Welcome, ${user.name}!`);
}
