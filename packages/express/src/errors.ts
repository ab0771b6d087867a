import { TaskqError } from '@taskq/core';

/**
 * `taskq()` ran twice for one request (mounted on the app and again on a
 * router or sub-app): two units of work would split the request's tasks.
 */
export class MountedTwiceError extends TaskqError {
  constructor() {
    super(
      'TASKQ_EXPRESS_MOUNTED_TWICE',
      'taskq() ran twice for this request: mount it once, on the app (or the outermost router) that serves the request',
    );
  }
}
