/** Jittered exponential backoff with a cap. Pure: the workflow passes its deterministic Math.random. */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** ±fraction of the delay, so that many sessions do not retry in lock-step. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 2_000, maxMs: 5 * 60_000, factor: 2, jitter: 0.2 };

export function backoffDelayMs(failures: number, random: () => number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const exponent = Math.max(0, failures - 1);
  const base = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.factor, exponent));
  const jittered = base * (1 + policy.jitter * (2 * random() - 1));
  return Math.round(Math.min(policy.maxMs, Math.max(0, jittered)));
}
