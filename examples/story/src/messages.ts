import type { UrlHelpers } from '@taskq/core';
import type { Delivery } from './deliveries.js';
import type { User } from './user.js';

// The story's messages, apart from the tasks that send them: a task module's every export is a task
// (`registry.module`), and the Nest example sends these from its own injectable task providers.

/** The welcome mail of a new user, with an absolute link to their profile built from `request`. */
export function welcomeMail(user: User, request: UrlHelpers): { profile: string; message: Delivery } {
  const profile = request.routeUrl('profile', { id: user.id });
  return {
    profile,
    message: {
      to: user.email,
      subject: 'Welcome!',
      text: `Hello ${user.name},\n\nyour account is ready. Your profile: ${profile}\n`,
    },
  };
}

/** The essay's push message: the site was updated, with a link to the news built from `request`. */
export function updateNotice(
  request: UrlHelpers,
  deviceToken: string,
  slug: string,
): { siteUrl: string; message: Delivery } {
  const siteUrl = request.routeUrl('news', { slug });
  return { siteUrl, message: { to: deviceToken, text: `Our website has been updated. Please visit ${siteUrl}` } };
}
