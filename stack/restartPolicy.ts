/** How the supervisor treats a service that exits on its own, and a restart that fails. */
export interface RestartPolicy {
  /** After a failed restart: keep trying with backoff (a dependency may still be down), or give the service up. */
  whenRestartFails: 'retry-forever' | 'give-up';
  /** Delay before a restart: initialMs doubling per consecutive restart, capped at maxMs. */
  initialMs: number;
  maxMs: number;
  /** A service that ran this long before exiting counts as healthy: its next restart waits initialMs again. */
  healthyAfterMs: number;
}

/** What `ibflow up` has always done: 1 s, 2 s, … 30 s; a minute of health resets the delay. */
export const UP_RESTART_POLICY: RestartPolicy = { whenRestartFails: 'retry-forever', initialMs: 1_000, maxMs: 30_000, healthyAfterMs: 60_000 };

/** The delay before restart number `consecutive` (0 = the first after a healthy run). */
export function restartDelayMs(policy: RestartPolicy, consecutive: number): number {
  return Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(consecutive, 30));
}

/** Restarts in a row so far, when a service exits after running ranForMs: a healthy run starts the count again. */
export function restartsInARow(policy: RestartPolicy, previous: number, ranForMs: number): number {
  return ranForMs > policy.healthyAfterMs ? 0 : previous;
}
