/**
 * Fail-points for crash tests. `TASKQ_FAILPOINT=<name>` (or `<name>@<n>` for
 * the n-th time the point is reached) makes this process SIGKILL itself
 * there: no finally blocks, no flushed buffers, exactly like a power cut or
 * the OOM killer at that instruction. Read once at start-up; unset (always,
 * outside tests) a fail-point costs one comparison.
 */
const SPEC = /^([a-z0-9.-]+)(?:@(\d+))?$/.exec(process.env.TASKQ_FAILPOINT ?? '');
const ARMED = SPEC?.[1];
const AT_HIT = SPEC?.[2] === undefined ? 1 : Number(SPEC[2]);
let hits = 0;

/**
 * The crash windows that tests can hit:
 * - `amqp.before-ack`: a task finished (or was dead-lettered) and its ack is about to be sent.
 * - `amqp.publish.after-confirm`: the broker confirmed a publish; the caller has not heard yet.
 * - `amqp.dead-letter.after-confirm`: a dead letter is stored; the original is not acked yet.
 */
export type FailPoint = 'amqp.before-ack' | 'amqp.publish.after-confirm' | 'amqp.dead-letter.after-confirm';

/** Kills the process here when `TASKQ_FAILPOINT` names this point (see {@link FailPoint}). */
export function failPoint(name: FailPoint): void {
  if (ARMED !== name) return;
  if (++hits < AT_HIT) return;
  process.kill(process.pid, 'SIGKILL');
}
