/**
 * The one registry shared by the taskq producer and worker children, as a
 * web app and its workers would share one tasks module. Importing it opens
 * nothing.
 */
import { TaskRegistry } from '@taskq/core';
import { add } from '../tasks.js';

export const registry = new TaskRegistry().add('bench.add', add);
