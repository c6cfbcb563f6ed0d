/**
 * Everything one run of the session workflow knows, and what its messages change, in one place
 * (the "safe message handlers" shape: handlers only flip state here; the loop in session.ts acts on
 * it). Plain data and synchronous methods: no Temporal calls, so it is testable on its own.
 */
import type { SessionStatus } from '../src/contract/sessionStatus';
import type { MaintenanceCalendar } from './maintenance';

/** Plain-JSON state carried across continueAsNew (a Map would not survive serialisation). */
export interface CarriedSessionState {
  failedLoginsAtMs: number[];
  lastTotpStep: number | null;
  lastLoginAt: string | null;
  paused: boolean;
  /** When logins elsewhere took the session lately (the flip-flop guard); absent in older runs. */
  competingLossesAtMs?: number[];
}

export interface SessionWorkflowInput {
  connectionId: string;
  /** Limits; defaults suit IBKR. Passed by the starter, never secret. */
  keepaliveIntervalMs?: number;
  maxFailedLoginsPerDay?: number;
  competingCooldownMs?: number;
  /** IBKR's reset and maintenance windows; default: North America (see workflows/maintenance.ts). */
  maintenance?: MaintenanceCalendar;
  /** How long one keepalive activity runs before handing back (it writes no history meanwhile). */
  keepaliveMaxDurationMs?: number;
  /** An outage (gateway not running, IBKR unreachable) lasting longer is reported as such; default 5 min. */
  outageReportAfterMs?: number;
  /** Continue as new once the history has this many events, even before Temporal suggests it (default: only when suggested). */
  continueAsNewAfterEvents?: number;
  carried?: CarriedSessionState;
}

export const FRESH_CARRIED_STATE: Readonly<CarriedSessionState> = { failedLoginsAtMs: [], lastTotpStep: null, lastLoginAt: null, paused: false };

export class SessionRun {
  readonly status: SessionStatus;
  readonly carried: CarriedSessionState;
  paused: boolean;
  stopRequested = false;
  /** A human asked for a fresh browser login (forceRelogin, relogin, or the end of a maintenance window). */
  forceLogin = false;
  /** A human answered since the session last asked for one. */
  humanAcknowledged = false;
  /** Set by the depth stream's `sessionLost` while a keepalive runs. */
  sessionLostReason: string | null = null;
  /** Set once a competing cool-down has been waited; the next `competing` check reclaims at once. */
  cooledDownForCompeting = false;
  /** Checks in a row that found SSO but no brokerage session (each followed by an ssodh/init). */
  noBridgeChecks = 0;
  /** Finished login attempts (success or failure): the relogin update waits for the next one. */
  loginAttemptsFinished = 0;
  /** Sessions in a row that died within 20 s of becoming usable (workflows/shortLivedSessions.ts). */
  shortLivedSessions = 0;

  constructor(connectionId: string, carried: CarriedSessionState | undefined, nowIso: string) {
    this.carried = carried ?? { ...FRESH_CARRIED_STATE, failedLoginsAtMs: [] };
    this.paused = this.carried.paused;
    this.status = {
      connectionId,
      state: 'reconnecting',
      since: nowIso,
      lastTickleAt: null,
      lastLoginAt: this.carried.lastLoginAt,
      failures: 0,
      nextAttemptAt: null,
      reason: 'checking the gateway',
    };
  }

  // ---- Messages ----

  statusSnapshot(): SessionStatus {
    return { ...this.status };
  }

  onForceRelogin(): void {
    this.forceLogin = true;
    this.humanAcknowledged = true;
  }

  onPause(): void {
    this.paused = true;
  }

  onResume(): void {
    this.paused = false;
    this.humanAcknowledged = true;
  }

  onStop(): void {
    this.stopRequested = true;
  }

  onSessionLost(reason: string): void {
    this.sessionLostReason = reason;
  }

  /** Why a relogin update is refused now, or null to accept it. */
  reloginRefusal(): string | null {
    if (this.paused) return 'the session is paused; resume it first';
    if (this.stopRequested) return 'the session is stopping';
    return null;
  }

  /** A relogin asked for after `attemptsBefore` finished logins is answered: a login since then settled, or the session stops. */
  reloginSettled(attemptsBefore: number): boolean {
    return (
      this.stopRequested ||
      (this.loginAttemptsFinished > attemptsBefore && (this.status.state === 'usable' || this.status.state === 'manual_action_required'))
    );
  }

  // ---- What wakes the waits ----

  /** Any wait that is not for a human wakes for these. */
  get humanAsked(): boolean {
    return this.forceLogin || this.stopRequested || this.paused;
  }

  /** A running keepalive is cancelled for these. */
  get keepaliveInterrupted(): boolean {
    return this.forceLogin || this.paused || this.stopRequested || this.sessionLostReason !== null;
  }

  /** The one-shot "a cool-down was just waited" flag, cleared as it is read. */
  takeCooledDownForCompeting(): boolean {
    const cooled = this.cooledDownForCompeting;
    this.cooledDownForCompeting = false;
    return cooled;
  }
}
