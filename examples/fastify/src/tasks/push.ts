import type { UrlHelpers } from '@taskq/core';
import { push } from '../deliveries.js';

/** The essay's send_push_message: tells a device the site was updated, with a link built from the request. */
export async function sendPushMessage(request: UrlHelpers, deviceToken: string, slug: string): Promise<string> {
  const siteUrl = request.routeUrl('news', { slug });
  await push.send({ to: deviceToken, text: `Our website has been updated. Please visit ${siteUrl}` });
  return siteUrl;
}
