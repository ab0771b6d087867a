import type { UrlHelpers } from '@taskq/core';
import { mailer } from '../deliveries.js';
import { welcomeMail } from '../messages.js';
import type { User } from '../user.js';

/**
 * Generates and sends a welcome mail to a new user, with an absolute link
 * built from the request that registered them. Plain code: call it directly
 * or submit it; in the worker `user` is loaded again and `request` is
 * rebuilt from its URL context.
 */
export async function sendWelcomeMail(user: User, request: UrlHelpers): Promise<string> {
  const { profile, message } = welcomeMail(user, request);
  await mailer.send(message);
  return profile;
}
