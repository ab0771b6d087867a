/**
 * The one registry shared by the taskq producer and worker children, as a
 * web app and its workers would share one tasks module. Importing it opens
 * nothing. `bench.wait` and `bench.hash` are the scale rows' I/O-bound and
 * CPU-bound tasks.
 */
import { TaskRegistry } from '@taskq/core';
import { add, hash, wait } from '../tasks.js';

export const registry = new TaskRegistry().add('bench.add', add).add('bench.wait', wait).add('bench.hash', hash);
