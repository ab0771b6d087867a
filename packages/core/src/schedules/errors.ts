import { TaskqError } from '../errors.js';

/** Two schedules of one scheduler have the same id: their ticks would share task ids. */
export class DuplicateScheduleError extends TaskqError {
  readonly id: string;
  constructor(id: string) {
    super(
      'TASKQ_DUPLICATE_SCHEDULE',
      `two schedules have the id ${JSON.stringify(id)}; a schedule id names one schedule (its ticks' task ids derive from it)`,
    );
    this.id = id;
  }
}

/** The scheduler has neither a transport that elects a leader nor tick claims in a database. */
export class NoLeadershipError extends TaskqError {
  constructor(kind: string) {
    super(
      'TASKQ_NO_LEADERSHIP',
      `the ${kind} transport cannot elect a leader, so schedulers cannot agree who fires a tick; use amqp() or memory(), or give createScheduler({ claims }) (e.g. sqlTickClaims() of @taskq/typeorm)`,
    );
  }
}
