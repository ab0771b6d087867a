import type { UrlHelpers } from '@taskq/core';
import { push } from '../deliveries.js';
import { updateNotice } from '../messages.js';

/** The essay's send_push_message: tells a device the site was updated, with a link built from the request. */
export async function sendPushMessage(request: UrlHelpers, deviceToken: string, slug: string): Promise<string> {
  const { siteUrl, message } = updateNotice(request, deviceToken, slug);
  await push.send(message);
  return siteUrl;
}
