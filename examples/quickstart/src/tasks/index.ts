import { TaskRegistry } from '@taskq/core';
import * as billing from './billing.js';
import * as mail from './mail.js';
import * as reminders from './reminders.js';
import * as reports from './reports.js';

/**
 * The one registry, imported by the web side (to submit) and by the worker (to
 * run). Every exported function becomes a task named `namespace.exportName`:
 * `mail.sendWelcomeMail` and `billing.sendWelcomeMail` are two tasks.
 * Building it opens no connection.
 */
export const registry = new TaskRegistry()
  .module('mail', mail)
  .module('billing', billing)
  .module('reports', reports)
  .module('reminders', reminders);

export { billing, mail, reminders, reports };
