/** What is known of one schedule's past: the last tick handled (fired or skipped) and the last one fired. */
export interface ScheduleMark {
  /** The last tick handled, epoch ms. */
  readonly tick: number;
  /** The last tick that submitted a task (not skipped), epoch ms. */
  readonly fired?: number;
  /** Fingerprint of the spec that handled it: the ticks of a changed spec are not caught up. */
  readonly spec: string;
}

/** One tick a scheduler wants to handle. */
export interface TickClaim {
  readonly schedule: string;
  /** The tick time. */
  readonly tick: Date;
  /** Fingerprint of the schedule's spec. */
  readonly spec: string;
}

/**
 * Claims of ticks in a shared database, the SQL store's way to fire each tick once (`sqlTickClaims()` of
 * @taskq/typeorm): every scheduler tries to claim every tick and only the one that records the claim submits.
 */
export interface TickClaims {
  /**
   * Records the claim of `claim.schedule` at `claim.tick` unless one exists, and then runs `handle` in the same
   * database transaction, so the task it submits (to the outbox) commits with the claim. Resolves whether this call
   * made the claim. `handle` resolves with the id of the task it submitted, or undefined when it skipped the tick
   * (the claim stands: the tick is handled).
   */
  claim(claim: TickClaim, handle: () => Promise<string | undefined>): Promise<boolean>;
  /** The latest claim of each of these schedules. */
  marks(ids: readonly string[]): Promise<Map<string, ScheduleMark>>;
}
