/**
 * IBKR locks a user after repeated failed logins, so every failed login is remembered (in workflow
 * state, which survives worker, pod and server restarts) and a rolling 24 h budget caps them.
 */
export const LOGIN_BUDGET_WINDOW_MS = 24 * 60 * 60 * 1000;

export function recentFailedLogins(failedAtMs: readonly number[], nowMs: number): number[] {
  return failedAtMs.filter((t) => nowMs - t < LOGIN_BUDGET_WINDOW_MS);
}

export function loginBudgetExhausted(failedAtMs: readonly number[], nowMs: number, maxPerDay: number): boolean {
  return recentFailedLogins(failedAtMs, nowMs).length >= maxPerDay;
}
