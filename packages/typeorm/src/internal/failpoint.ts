/** Fail-points a test can arm through `TASKQ_FAILPOINT` to reproduce a crash at an exact spot. */
export type Failpoint = 'after-commit-before-publish';

/**
 * Read once at start-up (a test arms it in a child process's environment): `process.env` is a lookup in the C++
 * environment on every read, which the committing path would otherwise pay per transaction.
 */
const ARMED = process.env.TASKQ_FAILPOINT;

/**
 * Kills the process with SIGKILL (no cleanup, no flushing, like a power cut
 * or the OOM killer) when `TASKQ_FAILPOINT` names this point.
 */
export function failpoint(name: Failpoint): void {
  if (ARMED === name) process.kill(process.pid, 'SIGKILL');
}
