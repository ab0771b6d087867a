import { TaskRegistry } from '@taskq/core';
import * as mail from './mail.js';
import * as push from './push.js';
import * as reports from './reports.js';

/** One registry, shared by the web process and the worker: ids `mail.sendWelcomeMail`, `push.sendPushMessage`, ... */
export const registry = new TaskRegistry().module('mail', mail).module('push', push).module('reports', reports);

export { mail, push, reports };
