import * as wf from '@temporalio/workflow';
import type { ControlActivities, PodActivities } from '../activities';
import { CONTROL_TASK_QUEUE, depthWorkflowId } from '../src/contract/ids';
import { CLOCK_SKEW_WARN_MS, type ConnectionFacts, type KeepaliveEnded, type SessionState, type SessionStatus } from '../src/contract/sessionStatus';
import { FailureType, PERMANENT_FAILURES } from '../src/contract/failureTypes';
import { backoffDelayMs } from './backoff';
import { failureOf } from './failureOf';
import { PATCHES } from './patches';
import { loginBudgetExhausted, recentFailedLogins } from './loginBudget';
import { activeMaintenanceWindow, DEFAULT_MAINTENANCE, type MaintenanceCalendar } from './maintenance';
import {
  forceReloginSignal,
  pauseSignal,
  reloginUpdate,
  resumeSignal,
  sessionChangedSignal,
  sessionLostSignal,
  statusQuery,
  stopSignal,
} from './messages';
import { IbflowConnection, IbflowMode, IbflowState } from './searchAttributes';

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
  /** Continue as new once the history has this many events, even before Temporal suggests it (default: only when suggested). */
  continueAsNewAfterEvents?: number;
  carried?: CarriedSessionState;
}

/** Logins elsewhere that take the session this often mean a person is using it: stop reclaiming. */
const MAX_COMPETING_LOSSES = 3;
const COMPETING_WINDOW_MS = 60 * 60 * 1000;

/** ssodh/init tries in a row that leave the session without a brokerage session before a fresh login. */
const MAX_SSODH_INIT_TRIES = 3;

/** Failed logins that count against the lockout budget. */
const LOGIN_FAILURES: readonly string[] = [
  FailureType.InvalidCredentials,
  FailureType.TotpRejected,
  FailureType.LoginFailed,
  FailureType.LoginPageChanged,
];

/**
 * One workflow per IBKR username keeps its brokerage session usable: check → keepalive until
 * trouble → ssodh/init or browser login → verify, with typed failures deciding between backoff and
 * asking a human. Inputs and history carry ids only, never a secret.
 */
export async function sessionWorkflow(input: SessionWorkflowInput): Promise<void> {
  const { connectionId } = input;
  const keepaliveIntervalMs = input.keepaliveIntervalMs ?? 60_000;
  const maxFailedLoginsPerDay = input.maxFailedLoginsPerDay ?? 3;
  const competingCooldownMs = input.competingCooldownMs ?? 120_000;
  const maintenance = input.maintenance ?? DEFAULT_MAINTENANCE;
  const keepaliveMaxDurationMs = input.keepaliveMaxDurationMs ?? 6 * 60 * 60 * 1000;
  const carried: CarriedSessionState = input.carried ?? { failedLoginsAtMs: [], lastTotpStep: null, lastLoginAt: null, paused: false };

  const status: SessionStatus = {
    connectionId,
    state: 'reconnecting',
    since: new Date().toISOString(),
    lastTickleAt: null,
    lastLoginAt: carried.lastLoginAt,
    failures: 0,
    nextAttemptAt: null,
    reason: 'checking the gateway',
  };
  let paused = carried.paused;
  let stopRequested = false;
  let forceLogin = false;
  let humanAcknowledged = false;
  let sessionLostReason: string | null = null;
  /** Set once a competing cool-down has been waited; the next `competing` check reclaims at once. */
  let cooledDownForCompeting = false;
  /** Checks in a row that found SSO but no brokerage session (each followed by an ssodh/init). */
  let noBridgeChecks = 0;
  /** Finished login attempts (success or failure): the relogin update waits for the next one. */
  let loginAttemptsFinished = 0;

  wf.setHandler(statusQuery, () => ({ ...status }));
  wf.setHandler(forceReloginSignal, () => {
    forceLogin = true;
    humanAcknowledged = true;
  });
  wf.setHandler(
    reloginUpdate,
    async () => {
      const attemptsBefore = loginAttemptsFinished;
      forceLogin = true;
      humanAcknowledged = true;
      const settled = () =>
        stopRequested ||
        (loginAttemptsFinished > attemptsBefore && (status.state === 'usable' || status.state === 'manual_action_required'));
      const done = await wf.condition(settled, '10 minutes');
      const ok = done && status.state === 'usable';
      return { ok, state: status.state, reason: done ? status.reason : `still recovering after 10 minutes: ${status.reason}` };
    },
    {
      validator: () => {
        if (paused) throw new Error('the session is paused; resume it first');
        if (stopRequested) throw new Error('the session is stopping');
      },
    },
  );
  wf.setHandler(pauseSignal, () => {
    paused = true;
  });
  wf.setHandler(resumeSignal, () => {
    paused = false;
    humanAcknowledged = true;
  });
  wf.setHandler(stopSignal, () => {
    stopRequested = true;
  });
  wf.setHandler(sessionLostSignal, (reason) => {
    sessionLostReason = reason;
  });

  const control = wf.proxyActivities<ControlActivities>({
    taskQueue: CONTROL_TASK_QUEUE,
    startToCloseTimeout: '30 seconds',
    retry: { maximumAttempts: 5, initialInterval: '1 second' },
  });
  // The session's event log in ClickHouse: retried (with no history cost) until ClickHouse is back,
  // so uptime per connection stays right through a long ClickHouse outage.
  const eventLog = wf.proxyActivities<ControlActivities>({
    taskQueue: CONTROL_TASK_QUEUE,
    startToCloseTimeout: '30 seconds',
    scheduleToCloseTimeout: '1 day',
    retry: { initialInterval: '1 second', maximumInterval: '1 minute', backoffCoefficient: 2 },
  });
  const facts: ConnectionFacts = await control.describeConnection(connectionId);
  const gateway = wf.proxyActivities<PodActivities>({
    taskQueue: facts.podTaskQueue,
    scheduleToStartTimeout: '1 minute', // a stopped pod worker shows up as `unavailable`, not a hang
    startToCloseTimeout: '1 minute',
    heartbeatTimeout: '20 seconds',
    retry: { maximumAttempts: 1 },
  });
  const browser = wf.proxyActivities<PodActivities>({
    taskQueue: facts.podTaskQueue,
    scheduleToStartTimeout: '1 minute',
    startToCloseTimeout: '3 minutes',
    heartbeatTimeout: '20 seconds',
    retry: { maximumAttempts: 1 }, // every login attempt is a decision of this workflow (lockout budget)
  });
  const keeper = wf.proxyActivities<PodActivities>({
    taskQueue: facts.podTaskQueue,
    scheduleToStartTimeout: '1 minute',
    startToCloseTimeout: '25 hours',
    // With heartbeats every 3 s this rides out a Temporal restart of ~25 s; a dead pod shows in 30 s.
    heartbeatTimeout: '30 seconds',
    retry: { maximumAttempts: 1 },
  });

  wf.upsertSearchAttributes([
    { key: IbflowConnection, value: connectionId },
    { key: IbflowMode, value: facts.mode },
  ]);
  wf.upsertMemo({ connectionId, mode: facts.mode, pod: facts.pod });

  function setState(state: SessionState, reason: string, nextAttemptAt: string | null = null): void {
    const previous = status.state;
    status.reason = reason;
    status.nextAttemptAt = nextAttemptAt;
    if (state === previous) return;
    status.state = state;
    status.since = new Date().toISOString();
    wf.upsertSearchAttributes([{ key: IbflowState, value: state }]);
    void eventLog
      .recordSessionEvent({ tsMs: Date.now(), connection: connectionId, workflowId: wf.workflowInfo().workflowId, state, previousState: previous, reason })
      .catch(() => undefined); // the session never waits for ClickHouse; a day-long outage loses events
    if (facts.hasInstruments && (state === 'usable' || previous === 'usable')) {
      void wf
        .getExternalWorkflowHandle(depthWorkflowId(connectionId))
        .signal(sessionChangedSignal, state === 'usable')
        .catch(() => undefined); // no depth workflow running: nothing to tell
    }
  }

  /** Sleeps, but wakes for anything a human asks. */
  async function pauseFor(ms: number): Promise<void> {
    await wf.condition(() => forceLogin || stopRequested || paused, ms);
  }

  async function waitForHuman(reason: string): Promise<void> {
    humanAcknowledged = false;
    setState('manual_action_required', reason);
    await wf.condition(() => humanAcknowledged || stopRequested);
  }

  async function login(): Promise<void> {
    const now = Date.now();
    carried.failedLoginsAtMs = recentFailedLogins(carried.failedLoginsAtMs, now);
    if (loginBudgetExhausted(carried.failedLoginsAtMs, now, maxFailedLoginsPerDay)) {
      await waitForHuman(
        `${carried.failedLoginsAtMs.length} failed logins in 24 h (budget ${maxFailedLoginsPerDay}); ` +
          'check the credentials, then send forceRelogin — further attempts could lock the IBKR account',
      );
      if (humanAcknowledged) carried.failedLoginsAtMs = [];
      return;
    }
    setState('logging_in', facts.mode === 'live' ? 'browser login with the authenticator-app code' : 'browser login');
    try {
      const result = await browser.loginWithBrowser(connectionId, { lastTotpStep: carried.lastTotpStep });
      if (result.totpStep !== null) carried.lastTotpStep = result.totpStep;
    } catch (err) {
      const failure = failureOf(err);
      const step = (failure.details[0] as { totpStep?: number | null } | undefined)?.totpStep;
      if (typeof step === 'number') carried.lastTotpStep = step;
      if (LOGIN_FAILURES.includes(failure.type)) carried.failedLoginsAtMs.push(Date.now());
      loginAttemptsFinished++;
      await handleFailure(err);
      return;
    }
    carried.lastLoginAt = new Date().toISOString();
    status.lastLoginAt = carried.lastLoginAt;
    setState('reconnecting', 'logged in; opening the brokerage session (ssodh/init)');
    try {
      await gateway.openBrokerageSession(connectionId, { compete: true });
      status.failures = 0;
      setState('usable', 'logged in and the brokerage session is open');
    } finally {
      loginAttemptsFinished++;
    }
  }

  /**
   * A gateway that drops every new session at once would otherwise get a fresh login each time:
   * sessions that lived less than a minute count, and the next login waits a growing backoff.
   */
  let shortLivedSessions = 0;
  const SHORT_LIVED_MS = 20_000;

  async function waitAfterShortLivedSessions(): Promise<void> {
    if (shortLivedSessions === 0) return;
    const delay = backoffDelayMs(shortLivedSessions, Math.random);
    setState('reconnecting', `the last session lasted under 20 s (${shortLivedSessions}× in a row); waiting before logging in again`, new Date(Date.now() + delay).toISOString());
    await pauseFor(delay);
  }

  /** Runs the keepalive until it reports trouble or a signal interrupts it. */
  async function keepAliveUntilTrouble(): Promise<void> {
    const usableSince = Date.now();
    try {
      await keepAliveOnce();
    } finally {
      const troubled = status.state !== 'usable'; // a keepalive refresh leaves the state as it was
      if (troubled && Date.now() - usableSince < SHORT_LIVED_MS && !forceLogin && !paused && !stopRequested) shortLivedSessions++;
      else if (Date.now() - usableSince >= 5 * SHORT_LIVED_MS) shortLivedSessions = 0;
    }
  }

  async function keepAliveOnce(): Promise<void> {
    sessionLostReason = null;
    status.lastTickleAt = new Date().toISOString();
    const scope = new wf.CancellationScope();
    try {
      const outcome = await scope.run(() => {
        const ended = keeper.keepAlive(connectionId, { intervalMs: keepaliveIntervalMs, maxDurationMs: keepaliveMaxDurationMs }).then((r: KeepaliveEnded) => ({ kind: 'ended' as const, r }));
        const interrupted = wf
          .condition(() => forceLogin || paused || stopRequested || sessionLostReason !== null)
          .then(() => ({ kind: 'interrupted' as const }));
        void ended.catch(() => undefined);
        void interrupted.catch(() => undefined);
        return Promise.race([ended, interrupted]);
      });
      if (outcome.kind === 'ended') {
        if (outcome.r.lastTickleAt) status.lastTickleAt = outcome.r.lastTickleAt;
        if (outcome.r.reason === 'refresh') return; // healthy: the loop checks and starts the next keepalive
        const why = {
          not_authenticated: 'gateway says the brokerage session is no longer authenticated',
          competing: 'a login elsewhere (TWS, mobile, web or another gateway) took the session',
          sso_gone: 'the gateway session expired or was logged out',
        }[outcome.r.reason];
        if (outcome.r.reason === 'competing') await coolDownAfterCompeting(why);
        else setState('reconnecting', why);
      } else if (sessionLostReason !== null) {
        const lost: string = sessionLostReason; // set by the signal handler while we waited
        const why = `the depth stream saw the session drop (${lost})`;
        if (lost.includes('competing')) await coolDownAfterCompeting(why);
        else setState('reconnecting', why);
      }
    } finally {
      scope.cancel();
    }
  }

  /**
   * Inside an IBKR reset or maintenance window drops are expected and logins fail by design: do
   * not spend the login budget, wait for the window to end (plus jitter), then log in afresh.
   * Returns false when no window is active.
   */
  async function waitOutMaintenance(): Promise<boolean> {
    const window = activeMaintenanceWindow(Date.now(), maintenance);
    if (!window) return false;
    const resumeAt = window.endsAtMs + Math.round(Math.random() * 60_000);
    setState('unavailable', `IBKR ${window.name} until ${new Date(window.endsAtMs).toISOString()}; a fresh login follows`, new Date(resumeAt).toISOString());
    await pauseFor(resumeAt - Date.now());
    if (!stopRequested && !paused && Date.now() >= window.endsAtMs) forceLogin = true;
    return true;
  }

  /**
   * Never fight a human's login: wait a cool-down before taking the session back — or, by policy or
   * once the session keeps being taken, wait for a human to say so.
   */
  async function coolDownAfterCompeting(why: string): Promise<void> {
    const now = Date.now();
    const losses = [...(carried.competingLossesAtMs ?? []).filter((t) => now - t < COMPETING_WINDOW_MS), now];
    carried.competingLossesAtMs = losses;
    const flipFlopping = losses.length >= MAX_COMPETING_LOSSES;
    if ((facts.competingPolicy === 'wait-for-human' || flipFlopping) && wf.patched(PATCHES.competingPolicy)) {
      humanAcknowledged = false;
      const because = flipFlopping
        ? `taken ${losses.length}× within an hour — someone is using this username, so ibflow does not fight for it`
        : 'competingPolicy is wait-for-human';
      setState('competing', `${why}; ${because}: send forceRelogin (ibflow session relogin) to take the session back`);
      await wf.condition(() => humanAcknowledged || stopRequested || paused);
      if (humanAcknowledged) carried.competingLossesAtMs = [];
      cooledDownForCompeting = true;
      return;
    }
    setState(
      'competing',
      `${why}; reclaiming in ${Math.round(competingCooldownMs / 1000)} s unless told otherwise`,
      new Date(Date.now() + competingCooldownMs).toISOString(),
    );
    await pauseFor(competingCooldownMs);
    cooledDownForCompeting = true;
  }

  async function handleFailure(err: unknown): Promise<void> {
    const failure = failureOf(err);
    if (PERMANENT_FAILURES.includes(failure.type) || failure.type === FailureType.TotpRejected) {
      if (failure.type === FailureType.TotpRejected && !loginBudgetExhausted(carried.failedLoginsAtMs, Date.now(), maxFailedLoginsPerDay)) {
        // A rejected code may be clock skew or a race with the step edge: one more try, in a fresh step.
        status.failures++;
        const delay = backoffDelayMs(status.failures, Math.random);
        setState('reconnecting', `${failure.type}: ${failure.message}`, new Date(Date.now() + delay).toISOString());
        await pauseFor(delay);
        return;
      }
      const recent = recentFailedLogins(carried.failedLoginsAtMs, Date.now()).length;
      const budget = failure.type === FailureType.TotpRejected ? `${recent} failed logins in 24 h (budget ${maxFailedLoginsPerDay}); ` : '';
      await waitForHuman(`${budget}${failure.type}: ${failure.message}`);
      return;
    }
    status.failures++;
    let delay = backoffDelayMs(status.failures, Math.random);
    if (failure.type === FailureType.RateLimited) {
      const retryAfterMs = (failure.details[0] as { retryAfterMs?: number } | undefined)?.retryAfterMs;
      if (typeof retryAfterMs === 'number') delay = Math.max(delay, retryAfterMs);
    }
    const state: SessionState = failure.type === FailureType.GatewayUnavailable || failure.type === FailureType.Timeout || failure.type === FailureType.RateLimited ? 'unavailable' : 'reconnecting';
    setState(state, `${failure.type}: ${failure.message}`, new Date(Date.now() + delay).toISOString());
    await pauseFor(delay);
  }

  for (;;) {
    if (stopRequested) {
      setState('stopped', 'stopped by signal');
      await wf.condition(wf.allHandlersFinished);
      return;
    }
    if (paused) {
      setState('paused', 'paused by signal; no keepalive or login until resume');
      await wf.condition(() => !paused || stopRequested);
      continue;
    }
    const info = wf.workflowInfo();
    if (info.continueAsNewSuggested || (input.continueAsNewAfterEvents !== undefined && info.historyLength >= input.continueAsNewAfterEvents)) {
      await wf.condition(wf.allHandlersFinished);
      carried.paused = paused;
      await wf.continueAsNew<typeof sessionWorkflow>({ ...input, carried });
    }
    try {
      if (forceLogin) {
        forceLogin = false;
        await login();
        continue;
      }
      const check = await gateway.checkSession(connectionId);
      const justCooledDown = cooledDownForCompeting;
      cooledDownForCompeting = false;
      if (check.kind !== 'usable' && (await waitOutMaintenance())) continue;
      switch (check.kind) {
        case 'usable': {
          status.failures = 0;
          noBridgeChecks = 0;
          status.clockSkewMs = check.clockSkewMs ?? null;
          const skewed = typeof check.clockSkewMs === 'number' && Math.abs(check.clockSkewMs) > CLOCK_SKEW_WARN_MS;
          const skewNote = skewed ? `; clock skew ${Math.round(check.clockSkewMs! / 1000)} s between this pod and the gateway — fix NTP, authenticator codes may be rejected` : '';
          setState('usable', `brokerage session open (${check.serverName || 'gateway'})${skewNote}`);
          await keepAliveUntilTrouble();
          break;
        }
        case 'no_bridge':
          noBridgeChecks++;
          if (noBridgeChecks > MAX_SSODH_INIT_TRIES && wf.patched(PATCHES.noBridgeEscalatesToLogin)) {
            // ssodh/init keeps not opening the brokerage session: a fresh login (within the budget) does.
            noBridgeChecks = 0;
            setState('reconnecting', `ssodh/init did not open the brokerage session ${MAX_SSODH_INIT_TRIES}× in a row; logging in afresh`);
            await login();
            break;
          }
          setState('reconnecting', 'logged in but no brokerage session; opening it (ssodh/init)');
          await gateway.openBrokerageSession(connectionId, { compete: true });
          break;
        case 'sso_gone':
          await waitAfterShortLivedSessions();
          if (!forceLogin && !paused && !stopRequested) await login();
          break;
        case 'competing':
          // The gateway keeps saying `competing` after the loss: one cool-down per loss is enough.
          if (!(justCooledDown && wf.patched(PATCHES.oneCooldownPerCompetingLoss))) {
            await coolDownAfterCompeting('a human or another program logged in elsewhere');
          }
          cooledDownForCompeting = false;
          if (!forceLogin && !paused && !stopRequested) await gateway.openBrokerageSession(connectionId, { compete: true });
          break;
      }
    } catch (err) {
      if (await waitOutMaintenance()) continue;
      await handleFailure(err);
    }
  }
}
