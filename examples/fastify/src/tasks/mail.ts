import type { UrlHelpers } from '@taskq/core';
import { mailer } from '../deliveries.js';
import type { User } from '../user.js';

/**
 * Generates and sends a welcome mail to a new user, with an absolute link
 * built from the request that registered them. Plain code: call it directly
 * or submit it; in the worker `user` is loaded again and `request` is
 * rebuilt from its URL context.
 */
export async function sendWelcomeMail(user: User, request: UrlHelpers): Promise<string> {
  const profile = request.routeUrl('profile', { id: user.id });
  await mailer.send({ to: user.email, subject: 'Welcome!', text: `Hello ${user.name},\n\nyour account is ready. Your profile: ${profile}\n` });
  return profile;
}
