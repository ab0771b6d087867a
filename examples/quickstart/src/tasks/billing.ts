import { mailer } from '../mailer.js';
import { log } from '../request-context.js';

/** A billing account, as plain data. */
export interface Account {
  readonly email: string;
  readonly plan: 'free' | 'pro';
}

/**
 * Same name as `mail.sendWelcomeMail`, different module: the registry makes it
 * the task `billing.sendWelcomeMail`, and each runs its own body.
 */
export async function sendWelcomeMail(account: Account): Promise<string> {
  log(`plan confirmation for ${account.email}`);
  return mailer.send(account.email, `Your ${account.plan} plan is active`);
}
