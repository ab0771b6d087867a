import { Inject, Injectable } from '@nestjs/common';
import type { UrlHelpers } from '@taskq/core';
import { updateNotice } from '@taskq/example-story';
import { Task } from '@taskq/nest';
import { PushSender } from '../deliveries.js';

@Injectable()
export class PushTasks {
  constructor(@Inject(PushSender) private readonly push: PushSender) {}

  /** The essay's send_push_message: tells a device the site was updated, with a link built from the request. */
  @Task({ id: 'push.sendPushMessage' })
  async sendPushMessage(request: UrlHelpers, deviceToken: string, slug: string): Promise<string> {
    const { siteUrl, message } = updateNotice(request, deviceToken, slug);
    await this.push.send(message);
    return siteUrl;
  }
}
