/** Fail-points a test can arm through `TASKQ_FAILPOINT` to reproduce a crash at an exact spot. */
export type Failpoint = 'after-commit-before-publish';

/**
 * Kills the process with SIGKILL (no cleanup, no flushing, like a power cut
 * or the OOM killer) when `TASKQ_FAILPOINT` names this point. Read on every
 * call so a test can arm it in a child process's environment.
 */
export function failpoint(name: Failpoint): void {
  if (process.env.TASKQ_FAILPOINT === name) process.kill(process.pid, 'SIGKILL');
}
