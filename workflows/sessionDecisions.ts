/**
 * What the session workflow decides, as plain functions of what it knows: which step follows a
 * gateway check, how a failure is answered (backoff, one more TOTP try, or a human), the login
 * budget at the start of a login, the ssodh/init escalation and the maintenance wait.
 * Pure and deterministic: time comes in as `nowMs` and randomness as `random` (the workflow passes
 * its seeded Math.random); nothing here sleeps, schedules or reads a clock. Each function calls
 * `random` at most once, and only on the paths where the workflow always did, so histories replay.
 */
import { CLOCK_SKEW_WARN_MS, type GatewaySessionCheck, type KeepaliveEnded, type PacingPenalty, type SessionState } from '../src/contract/sessionStatus';
import { FailureType, PERMANENT_FAILURES } from '../src/contract/failureTypes';
import { backoffDelayMs } from './backoff';
import type { FailureInfo } from './failureOf';
import { loginBudgetExhausted, recentFailedLogins } from './loginBudget';
import { activeMaintenanceWindow, type MaintenanceCalendar } from './maintenance';
import { OUTAGE_RECHECK_MAX_MS, outageKindOf } from './outage';

// ---- The loop's steps (docs/sessions.md names them the same) ----

/** What the loop does next before it looks at the gateway, in priority order. */
export type LoopStep = 'stop' | 'pause' | 'continueAsNew' | 'login' | 'check';

export interface LoopFlags {
  stopRequested: boolean;
  paused: boolean;
  continueAsNewDue: boolean;
  forceLogin: boolean;
}

export function nextLoopStep(flags: LoopFlags): LoopStep {
  if (flags.stopRequested) return 'stop';
  if (flags.paused) return 'pause';
  if (flags.continueAsNewDue) return 'continueAsNew';
  if (flags.forceLogin) return 'login';
  return 'check';
}

/** Temporal suggests a new run, or the history has reached the starter's own limit. */
export function continueAsNewDue(info: { continueAsNewSuggested: boolean; historyLength: number }, afterEvents: number | undefined): boolean {
  return info.continueAsNewSuggested || (afterEvents !== undefined && info.historyLength >= afterEvents);
}

/** The step each gateway check leads to (outside a maintenance window). */
export type CheckStep =
  | { step: 'keepAlive'; serverName: string; clockSkewMs: number | null; pacing: PacingPenalty | null }
  | { step: 'openBrokerageSession' }
  | { step: 'login' }
  | { step: 'reclaim' };

export function stepAfterCheck(check: GatewaySessionCheck): CheckStep {
  switch (check.kind) {
    case 'usable':
      return { step: 'keepAlive', serverName: check.serverName, clockSkewMs: check.clockSkewMs ?? null, pacing: check.pacing ?? null };
    case 'no_bridge': // SSO but no brokerage session: ssodh/init
      return { step: 'openBrokerageSession' };
    case 'sso_gone':
      return { step: 'login' };
    case 'competing': // the portal session survives a competing loss: ssodh/init with compete, no login
      return { step: 'reclaim' };
  }
}

/** Only a session that is not usable waits out a maintenance window (a usable one just keeps alive). */
export function checkMayMeetMaintenance(check: GatewaySessionCheck): boolean {
  return check.kind !== 'usable';
}

// ---- Usable ----

export function usableReason(check: { serverName: string; clockSkewMs?: number | null; pacing?: PacingPenalty | null }): string {
  const skewed = typeof check.clockSkewMs === 'number' && Math.abs(check.clockSkewMs) > CLOCK_SKEW_WARN_MS;
  const skewNote = skewed ? `; clock skew ${Math.round(check.clockSkewMs! / 1000)} s between this pod and the gateway — fix NTP, authenticator codes may be rejected` : '';
  const pacingNote = check.pacing ? `; ${penaltyNote(check.pacing)}` : '';
  return `brokerage session open (${check.serverName || 'gateway'})${skewNote}${pacingNote}`;
}

// ---- IBKR's penalty box ----

/** What the status says while the pod's address is in IBKR's penalty box. */
export function penaltyNote(p: PacingPenalty): string {
  return `REST requests paused until ${p.until} (the gateway answers 429: ${p.cause}); the session is kept alive over the websocket and depth keeps streaming`;
}

export function pacingEventReason(p: PacingPenalty | null, started: boolean): string {
  if (p === null) return 'pacing penalty over: the gateway serves REST requests again; REST keepalive resumed without a new login';
  return `${started ? 'pacing penalty' : 'pacing penalty extended'} (refused ${p.path} since ${p.since}): ${penaltyNote(p)}`;
}

export function samePenalty(a: PacingPenalty | null, b: PacingPenalty | null): boolean {
  if (a === null || b === null) return a === b;
  return a.since === b.since && a.until === b.until && a.path === b.path && a.cause === b.cause;
}

// ---- Keepalive ended ----

/** What a finished keepalive (or the depth stream's `sessionLost`) means for the session. */
export type KeepaliveVerdict = { kind: 'healthy' } | { kind: 'competing'; why: string } | { kind: 'reconnect'; why: string };

const KEEPALIVE_ENDED_WHY: Record<Exclude<KeepaliveEnded['reason'], 'refresh'>, string> = {
  not_authenticated: 'gateway says the brokerage session is no longer authenticated',
  competing: 'a login elsewhere (TWS, mobile, web or another gateway) took the session',
  sso_gone: 'the gateway session expired or was logged out',
};

export function verdictOnKeepaliveEnded(reason: KeepaliveEnded['reason']): KeepaliveVerdict {
  // `refresh`: the activity ended itself after its maximum run time; the loop checks and starts the next.
  if (reason === 'refresh') return { kind: 'healthy' };
  const why = KEEPALIVE_ENDED_WHY[reason];
  return reason === 'competing' ? { kind: 'competing', why } : { kind: 'reconnect', why };
}

export function verdictOnSessionLost(lost: string): KeepaliveVerdict {
  // A competing loss reads the same whichever of the keepalive and the depth stream saw it first.
  if (lost.includes('competing')) return { kind: 'competing', why: `${KEEPALIVE_ENDED_WHY.competing} (seen by the depth stream)` };
  return { kind: 'reconnect', why: `the depth stream saw the session drop (${lost})` };
}

// ---- ssodh/init ----

/** ssodh/init tries in a row that leave the session without a brokerage session before a fresh login. */
export const MAX_SSODH_INIT_TRIES = 3;

export const OPEN_BROKERAGE_SESSION_REASON = 'logged in but no brokerage session; opening it (ssodh/init)';
export const ESCALATE_TO_LOGIN_REASON = `ssodh/init did not open the brokerage session ${MAX_SSODH_INIT_TRIES}× in a row; logging in afresh`;

/** Counts a `no_bridge` check; past the tries, a fresh login is due (the workflow gates it by a patch). */
export function afterNoBridgeCheck(noBridgeChecks: number): { noBridgeChecks: number; escalateToLogin: boolean } {
  const next = noBridgeChecks + 1;
  return { noBridgeChecks: next, escalateToLogin: next > MAX_SSODH_INIT_TRIES };
}

// ---- Login ----

/** Failed logins that count against the lockout budget. */
export const COUNTED_LOGIN_FAILURES: readonly string[] = [
  FailureType.InvalidCredentials,
  FailureType.TotpRejected,
  FailureType.LoginFailed,
  FailureType.LoginPageChanged,
];

export type LoginGate =
  | { kind: 'login'; failedLoginsAtMs: number[]; reason: string }
  | { kind: 'budgetExhausted'; failedLoginsAtMs: number[]; reason: string };

/** At the start of a login: forget failures older than the budget window, and log in only within the budget. */
export function loginGate(failedLoginsAtMs: readonly number[], nowMs: number, maxFailedLoginsPerDay: number, mode: 'paper' | 'live'): LoginGate {
  const recent = recentFailedLogins(failedLoginsAtMs, nowMs);
  if (loginBudgetExhausted(recent, nowMs, maxFailedLoginsPerDay)) {
    return {
      kind: 'budgetExhausted',
      failedLoginsAtMs: recent,
      reason:
        `${recent.length} failed logins in 24 h (budget ${maxFailedLoginsPerDay}); ` +
        'check the credentials, then send forceRelogin — further attempts could lock the IBKR account',
    };
  }
  return { kind: 'login', failedLoginsAtMs: recent, reason: mode === 'live' ? 'browser login with the authenticator-app code' : 'browser login' };
}

/** Why a check led to a login: IBKR answered through the gateway, and there is no session. */
export const SESSION_GONE_REASON = 'IBKR answers, the session is gone (the gateway has no login)';

export const LOGGED_IN_REASON = 'logged in; opening the brokerage session (ssodh/init)';
export const BROKERAGE_SESSION_OPEN_REASON = 'logged in and the brokerage session is open';

/** What a failed login attempt leaves behind: the TOTP step it used (never replayed) and, if it counts, its time. */
export function afterFailedLogin(
  failure: FailureInfo,
  remembered: { failedLoginsAtMs: readonly number[]; lastTotpStep: number | null },
  nowMs: number,
): { failedLoginsAtMs: number[]; lastTotpStep: number | null } {
  const step = (failure.details[0] as { totpStep?: number | null } | undefined)?.totpStep;
  return {
    lastTotpStep: typeof step === 'number' ? step : remembered.lastTotpStep,
    failedLoginsAtMs: COUNTED_LOGIN_FAILURES.includes(failure.type) ? [...remembered.failedLoginsAtMs, nowMs] : [...remembered.failedLoginsAtMs],
  };
}

// ---- Failures ----

/** Failures that mean the gateway (or IBKR) is away for now, not that the session needs work. */
export const UNAVAILABLE_FAILURES: readonly string[] = [
  FailureType.GatewayUnavailable,
  FailureType.GatewayNotRunning,
  FailureType.IbkrUnreachable,
  FailureType.Timeout,
  FailureType.RateLimited,
];

export type FailureDecision =
  | { kind: 'waitForHuman'; reason: string }
  /** Back off `delayMs` in `state`, with the consecutive-failure count raised to `failures`. */
  | { kind: 'backOff'; state: Extract<SessionState, 'unavailable' | 'reconnecting'>; failures: number; delayMs: number; reason: string };

export interface FailureContext {
  /** Consecutive failed recovery attempts so far. */
  failures: number;
  failedLoginsAtMs: readonly number[];
  nowMs: number;
  maxFailedLoginsPerDay: number;
}

/**
 * Permanent failures wait for a human; a rejected TOTP code gets one more try in a fresh step while
 * the login budget lasts (it may be clock skew or a race with the step edge); a 429 waits at least
 * its Retry-After; everything else backs off, `unavailable` when the gateway is away.
 */
export function decideAfterFailure(failure: FailureInfo, ctx: FailureContext, random: () => number): FailureDecision {
  const reason = `${failure.type}: ${failure.message}`;
  const totpRejected = failure.type === FailureType.TotpRejected;
  if (PERMANENT_FAILURES.includes(failure.type) || totpRejected) {
    if (totpRejected && !loginBudgetExhausted(ctx.failedLoginsAtMs, ctx.nowMs, ctx.maxFailedLoginsPerDay)) {
      const failures = ctx.failures + 1;
      return { kind: 'backOff', state: 'reconnecting', failures, delayMs: backoffDelayMs(failures, random), reason };
    }
    const recent = recentFailedLogins(ctx.failedLoginsAtMs, ctx.nowMs).length;
    const budget = totpRejected ? `${recent} failed logins in 24 h (budget ${ctx.maxFailedLoginsPerDay}); ` : '';
    return { kind: 'waitForHuman', reason: `${budget}${reason}` };
  }
  const failures = ctx.failures + 1;
  let delayMs = backoffDelayMs(failures, random);
  if (failure.type === FailureType.RateLimited) {
    const retryAfterMs = (failure.details[0] as { retryAfterMs?: number } | undefined)?.retryAfterMs;
    if (typeof retryAfterMs === 'number') delayMs = Math.max(delayMs, retryAfterMs);
  }
  // During an outage a check costs nothing but a wait: look often, so recovery starts soon after it ends.
  if (outageKindOf(failure.type) !== null) delayMs = Math.min(delayMs, OUTAGE_RECHECK_MAX_MS);
  const state = UNAVAILABLE_FAILURES.includes(failure.type) ? 'unavailable' : 'reconnecting';
  return { kind: 'backOff', state, failures, delayMs, reason };
}

// ---- Maintenance ----

/** Up to this much jitter after a window's end, so that many sessions do not log in at once. */
export const MAINTENANCE_JITTER_MS = 60_000;

export interface MaintenanceWait {
  endsAtMs: number;
  resumeAtMs: number;
  reason: string;
}

/**
 * Inside an IBKR reset or maintenance window drops are expected and logins fail by design: wait for
 * the window to end (plus jitter) without spending the login budget. Null when no window is active
 * (and then `random` is not called).
 */
export function maintenanceWait(nowMs: number, calendar: MaintenanceCalendar, random: () => number): MaintenanceWait | null {
  const window = activeMaintenanceWindow(nowMs, calendar);
  if (!window) return null;
  return {
    endsAtMs: window.endsAtMs,
    resumeAtMs: window.endsAtMs + Math.round(random() * MAINTENANCE_JITTER_MS),
    reason: `IBKR ${window.name} until ${new Date(window.endsAtMs).toISOString()}; a fresh login follows`,
  };
}

/** After the wait: a fresh login, unless a human interrupted it before the window ended. */
export function freshLoginAfterMaintenance(nowMs: number, wait: MaintenanceWait, flags: { stopRequested: boolean; paused: boolean }): boolean {
  return !flags.stopRequested && !flags.paused && nowMs >= wait.endsAtMs;
}
