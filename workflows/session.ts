import * as wf from '@temporalio/workflow';
import type { ControlActivities, PodActivities } from '../activities';
import { CONTROL_TASK_QUEUE, depthWorkflowId } from '../src/contract/ids';
import type { ConnectionFacts, KeepaliveEnded, PacingPenalty, SessionState } from '../src/contract/sessionStatus';
import { COMPETING_CHECK_WHY, decideOnCompetingLoss } from './competingGuard';
import { failureOf } from './failureOf';
import { DEFAULT_MAINTENANCE } from './maintenance';
import {
  forceReloginSignal,
  pacingSignal,
  pauseSignal,
  reloginUpdate,
  resumeSignal,
  sessionChangedSignal,
  sessionLostSignal,
  statusQuery,
  stopSignal,
} from './messages';
import { DEFAULT_OUTAGE_REPORT_AFTER_MS, outageAfterFailure, outageNote, outageOverReason } from './outage';
import { PATCHES } from './patches';
import { IbflowConnection, IbflowMode, IbflowState } from './searchAttributes';
import {
  afterFailedLogin,
  afterNoBridgeCheck,
  BROKERAGE_SESSION_OPEN_REASON,
  checkMayMeetMaintenance,
  continueAsNewDue,
  decideAfterFailure,
  ESCALATE_TO_LOGIN_REASON,
  freshLoginAfterMaintenance,
  LOGGED_IN_REASON,
  loginGate,
  maintenanceWait,
  nextLoopStep,
  OPEN_BROKERAGE_SESSION_REASON,
  pacingEventReason,
  samePenalty,
  SESSION_GONE_REASON,
  stepAfterCheck,
  usableReason,
  verdictOnKeepaliveEnded,
  verdictOnSessionLost,
  type KeepaliveVerdict,
} from './sessionDecisions';
import { SessionRun, type SessionWorkflowInput } from './sessionRun';
import { shortLivedCountAfter, waitBeforeLogin } from './shortLivedSessions';

export type { CarriedSessionState, SessionWorkflowInput } from './sessionRun';

/**
 * One workflow per IBKR username keeps its brokerage session usable. The loop is the state machine
 * of docs/sessions.md: stop | pause | continueAsNew | login | check → keepAlive | openBrokerageSession
 * | login | reclaim, with failures answered by backOff or waitForHuman and maintenance windows
 * waited out. What to do is decided in sessionDecisions.ts, competingGuard.ts and
 * shortLivedSessions.ts (pure); this file does it. Inputs and history carry ids only, never a secret.
 */
export async function sessionWorkflow(input: SessionWorkflowInput): Promise<void> {
  const { connectionId } = input;
  const keepaliveIntervalMs = input.keepaliveIntervalMs ?? 60_000;
  const maxFailedLoginsPerDay = input.maxFailedLoginsPerDay ?? 3;
  const competingCooldownMs = input.competingCooldownMs ?? 120_000;
  const maintenance = input.maintenance ?? DEFAULT_MAINTENANCE;
  const keepaliveMaxDurationMs = input.keepaliveMaxDurationMs ?? 6 * 60 * 60 * 1000;
  const outageReportAfterMs = input.outageReportAfterMs ?? DEFAULT_OUTAGE_REPORT_AFTER_MS;

  // ---- State and messages ----
  const run = new SessionRun(connectionId, input.carried, new Date().toISOString());
  const { status, carried } = run;

  wf.setHandler(statusQuery, () => run.statusSnapshot());
  wf.setHandler(forceReloginSignal, () => run.onForceRelogin());
  wf.setHandler(
    reloginUpdate,
    async () => {
      const attemptsBefore = run.loginAttemptsFinished;
      run.onForceRelogin();
      const done = await wf.condition(() => run.reloginSettled(attemptsBefore), '10 minutes');
      const ok = done && status.state === 'usable';
      return { ok, state: status.state, reason: done ? status.reason : `still recovering after 10 minutes: ${status.reason}` };
    },
    {
      validator: () => {
        const refusal = run.reloginRefusal();
        if (refusal !== null) throw new Error(refusal);
      },
    },
  );
  wf.setHandler(pauseSignal, () => run.onPause());
  wf.setHandler(resumeSignal, () => run.onResume());
  wf.setHandler(stopSignal, () => run.onStop());
  wf.setHandler(sessionLostSignal, (reason) => run.onSessionLost(reason));

  // ---- Activities ----
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

  // IBKR's penalty box on the pod's address, as the pod's keepalive sees it: recorded, shown in the
  // status, and never a reason to recover — the keepalive goes on over the websocket meanwhile.
  let usableBecause = '';
  wf.setHandler(pacingSignal, (penalty: PacingPenalty | null) => applyPacing(penalty));
  function applyPacing(penalty: PacingPenalty | null): void {
    if (samePenalty(status.pacing ?? null, penalty)) return;
    const started = (status.pacing ?? null) === null;
    status.pacing = penalty;
    if (status.state === 'usable') status.reason = usableReason({ serverName: usableBecause, clockSkewMs: status.clockSkewMs, pacing: penalty });
    recordEvent(status.state, pacingEventReason(penalty, started));
  }

  wf.upsertSearchAttributes([
    { key: IbflowConnection, value: connectionId },
    { key: IbflowMode, value: facts.mode },
  ]);
  wf.upsertMemo({ connectionId, mode: facts.mode, pod: facts.pod });

  /** A row in the session's event log, in the current state; the session never waits for ClickHouse (a day-long outage loses events). */
  function recordEvent(previous: SessionState, reason: string): void {
    void eventLog
      .recordSessionEvent({ tsMs: Date.now(), connection: connectionId, workflowId: wf.workflowInfo().workflowId, state: status.state, previousState: previous, reason })
      .catch(() => undefined);
  }

  /** The gateway and IBKR answer again: an outage that was reported gets its end on record too. */
  function endOutage(): void {
    const outage = status.outage ?? null;
    if (outage === null) return;
    status.outage = null;
    if (outage.reportedAt !== null) recordEvent(status.state, outageOverReason(outage, Date.now()));
  }

  /**
   * Trying again (a login a person asked for, a reconnect) says nothing of whether the gateway and
   * IBKR answer: the outage goes on until an attempt gets an answer (usable, or another failure).
   * Before the patch, the attempt itself ended it and recorded a false "outage over".
   */
  function outageGoesOnThrough(state: SessionState): boolean {
    if (status.outage == null || (state !== 'logging_in' && state !== 'reconnecting')) return false;
    return wf.patched(PATCHES.outageSpansAttempts);
  }

  /** Every state change: search attribute, event log row, and the depth workflow told of usable ↔ not. */
  function setState(state: SessionState, reason: string, nextAttemptAt: string | null = null): void {
    if (state !== 'unavailable' && !outageGoesOnThrough(state)) endOutage();
    const previous = status.state;
    status.reason = reason;
    status.nextAttemptAt = nextAttemptAt;
    if (state === previous) return;
    status.state = state;
    status.since = new Date().toISOString();
    wf.upsertSearchAttributes([{ key: IbflowState, value: state }]);
    recordEvent(previous, reason);
    if (facts.hasInstruments && (state === 'usable' || previous === 'usable')) {
      void wf
        .getExternalWorkflowHandle(depthWorkflowId(connectionId))
        .signal(sessionChangedSignal, state === 'usable')
        .catch(() => undefined); // no depth workflow running: nothing to tell
    }
  }

  const inMs = (delayMs: number): string => new Date(Date.now() + delayMs).toISOString();

  /** Sleeps, but wakes for anything a human asks. */
  async function pauseFor(ms: number): Promise<void> {
    await wf.condition(() => run.humanAsked, ms);
  }

  // ---- Steps ----

  async function waitForHuman(reason: string): Promise<void> {
    run.humanAcknowledged = false;
    setState('manual_action_required', reason);
    await wf.condition(() => run.humanAcknowledged || run.stopRequested);
  }

  /** Browser login (TOTP for live) within the login budget, then ssodh/init; `why` leads the status reason. */
  async function login(why?: string): Promise<void> {
    const gate = loginGate(carried.failedLoginsAtMs, Date.now(), maxFailedLoginsPerDay, facts.mode);
    carried.failedLoginsAtMs = gate.failedLoginsAtMs;
    if (gate.kind === 'budgetExhausted') {
      await waitForHuman(gate.reason);
      if (run.humanAcknowledged) carried.failedLoginsAtMs = [];
      return;
    }
    setState('logging_in', why ? `${why}; ${gate.reason}` : gate.reason);
    try {
      const result = await browser.loginWithBrowser(connectionId, { lastTotpStep: carried.lastTotpStep });
      if (result.totpStep !== null) carried.lastTotpStep = result.totpStep;
    } catch (err) {
      const left = afterFailedLogin(failureOf(err), carried, Date.now());
      carried.lastTotpStep = left.lastTotpStep;
      carried.failedLoginsAtMs = left.failedLoginsAtMs;
      run.loginAttemptsFinished++;
      await handleFailure(err);
      return;
    }
    carried.lastLoginAt = new Date().toISOString();
    status.lastLoginAt = carried.lastLoginAt;
    setState('reconnecting', LOGGED_IN_REASON);
    try {
      await gateway.openBrokerageSession(connectionId, { compete: true });
      status.failures = 0;
      setState('usable', BROKERAGE_SESSION_OPEN_REASON);
    } finally {
      run.loginAttemptsFinished++;
    }
  }

  async function waitAfterShortLivedSessions(): Promise<void> {
    const wait = waitBeforeLogin(run.shortLivedSessions, Math.random);
    if (!wait) return;
    setState('reconnecting', wait.reason, inMs(wait.delayMs));
    await pauseFor(wait.delayMs);
  }

  /** Runs the keepalive until it reports trouble or a signal interrupts it. */
  async function keepAliveUntilTrouble(): Promise<void> {
    const usableSince = Date.now();
    try {
      await keepAliveOnce();
    } finally {
      run.shortLivedSessions = shortLivedCountAfter(run.shortLivedSessions, {
        usableForMs: Date.now() - usableSince,
        troubled: status.state !== 'usable', // a keepalive refresh leaves the state as it was
        interruptedByHuman: run.humanAsked,
      });
    }
  }

  async function keepAliveOnce(): Promise<void> {
    run.sessionLostReason = null;
    status.lastTickleAt = new Date().toISOString();
    const scope = new wf.CancellationScope();
    try {
      const outcome = await scope.run(() => {
        const ended = keeper.keepAlive(connectionId, { intervalMs: keepaliveIntervalMs, maxDurationMs: keepaliveMaxDurationMs }).then((r: KeepaliveEnded) => ({ kind: 'ended' as const, r }));
        const interrupted = wf.condition(() => run.keepaliveInterrupted).then(() => ({ kind: 'interrupted' as const }));
        void ended.catch(() => undefined);
        void interrupted.catch(() => undefined);
        return Promise.race([ended, interrupted]);
      });
      let verdict: KeepaliveVerdict | null = null;
      if (outcome.kind === 'ended') {
        if (outcome.r.lastTickleAt) status.lastTickleAt = outcome.r.lastTickleAt;
        verdict = verdictOnKeepaliveEnded(outcome.r.reason);
      } else if (run.sessionLostReason !== null) {
        verdict = verdictOnSessionLost(run.sessionLostReason); // set by the signal handler while we waited
      }
      if (verdict === null || verdict.kind === 'healthy') return; // the loop checks and starts the next keepalive
      if (verdict.kind === 'competing') await coolDownAfterCompeting(verdict.why);
      else setState('reconnecting', verdict.why);
    } finally {
      scope.cancel();
    }
  }

  /** Returns false when no maintenance window is active. */
  async function waitOutMaintenance(): Promise<boolean> {
    const wait = maintenanceWait(Date.now(), maintenance, Math.random);
    if (!wait) return false;
    setState('unavailable', wait.reason, new Date(wait.resumeAtMs).toISOString());
    await pauseFor(wait.resumeAtMs - Date.now());
    if (freshLoginAfterMaintenance(Date.now(), wait, run)) run.forceLogin = true;
    return true;
  }

  /** Reclaim after the cool-down, or (by policy or the flip-flop guard) wait for a human. */
  async function coolDownAfterCompeting(why: string): Promise<void> {
    const decision = decideOnCompetingLoss({
      lossesAtMs: carried.competingLossesAtMs,
      nowMs: Date.now(),
      policy: facts.competingPolicy,
      cooldownMs: competingCooldownMs,
      why,
    });
    carried.competingLossesAtMs = decision.lossesAtMs;
    if (decision.waitForHuman && wf.patched(PATCHES.competingPolicy)) {
      run.humanAcknowledged = false;
      setState('competing', decision.humanReason);
      await wf.condition(() => run.humanAcknowledged || run.stopRequested || run.paused);
      if (run.humanAcknowledged) carried.competingLossesAtMs = [];
      run.cooledDownForCompeting = true;
      return;
    }
    setState('competing', decision.reclaimReason, new Date(decision.reclaimAtMs).toISOString());
    await pauseFor(competingCooldownMs);
    run.cooledDownForCompeting = true;
  }

  /** backOff (unavailable or reconnecting) or waitForHuman, as sessionDecisions decides. */
  async function handleFailure(err: unknown): Promise<void> {
    const failure = failureOf(err);
    const decision = decideAfterFailure(failure, { failures: status.failures, failedLoginsAtMs: carried.failedLoginsAtMs, nowMs: Date.now(), maxFailedLoginsPerDay }, Math.random);
    if (decision.kind === 'waitForHuman') {
      await waitForHuman(decision.reason);
      return;
    }
    const outage = outageAfterFailure(status.outage ?? null, failure.type, Date.now(), outageReportAfterMs);
    if (outage.outage === null) endOutage();
    else status.outage = outage.outage;
    status.failures = decision.failures;
    setState(decision.state, decision.reason + outageNote(outage.outage, Date.now()), inMs(decision.delayMs));
    if (outage.report !== null) recordEvent(status.state, outage.report);
    await pauseFor(decision.delayMs);
  }

  // ---- The loop ----
  for (;;) {
    const info = wf.workflowInfo();
    const step = nextLoopStep({
      stopRequested: run.stopRequested,
      paused: run.paused,
      continueAsNewDue: continueAsNewDue(info, input.continueAsNewAfterEvents),
      forceLogin: run.forceLogin,
    });
    if (step === 'stop') {
      setState('stopped', 'stopped by signal');
      await wf.condition(wf.allHandlersFinished);
      return;
    }
    if (step === 'pause') {
      setState('paused', 'paused by signal; no keepalive or login until resume');
      await wf.condition(() => !run.paused || run.stopRequested);
      continue;
    }
    if (step === 'continueAsNew') {
      await wf.condition(wf.allHandlersFinished);
      carried.paused = run.paused;
      await wf.continueAsNew<typeof sessionWorkflow>({ ...input, carried });
    }
    try {
      if (step === 'login') {
        run.forceLogin = false;
        await login();
        continue;
      }
      const check = await gateway.checkSession(connectionId);
      const justCooledDown = run.takeCooledDownForCompeting();
      if (checkMayMeetMaintenance(check) && (await waitOutMaintenance())) continue;
      const next = stepAfterCheck(check);
      switch (next.step) {
        case 'keepAlive': {
          status.failures = 0;
          run.noBridgeChecks = 0;
          status.clockSkewMs = next.clockSkewMs;
          usableBecause = next.serverName;
          setState('usable', usableReason(next));
          // Only a run that was told of a penalty box can hold one: a box that ended while no keepalive ran.
          if ((status.pacing ?? null) !== null || next.pacing !== null) applyPacing(next.pacing);
          await keepAliveUntilTrouble();
          break;
        }
        case 'openBrokerageSession': {
          const counted = afterNoBridgeCheck(run.noBridgeChecks);
          run.noBridgeChecks = counted.noBridgeChecks;
          if (counted.escalateToLogin && wf.patched(PATCHES.noBridgeEscalatesToLogin)) {
            // ssodh/init keeps not opening the brokerage session: a fresh login (within the budget) does.
            run.noBridgeChecks = 0;
            setState('reconnecting', ESCALATE_TO_LOGIN_REASON);
            await login();
            break;
          }
          setState('reconnecting', OPEN_BROKERAGE_SESSION_REASON);
          await gateway.openBrokerageSession(connectionId, { compete: true });
          break;
        }
        case 'login':
          await waitAfterShortLivedSessions();
          if (!run.humanAsked) await login(SESSION_GONE_REASON);
          break;
        case 'reclaim':
          // The gateway keeps saying `competing` after the loss: one cool-down per loss is enough.
          if (!(justCooledDown && wf.patched(PATCHES.oneCooldownPerCompetingLoss))) {
            await coolDownAfterCompeting(COMPETING_CHECK_WHY);
          }
          run.cooledDownForCompeting = false;
          if (!run.humanAsked) await gateway.openBrokerageSession(connectionId, { compete: true });
          break;
      }
    } catch (err) {
      if (await waitOutMaintenance()) continue;
      await handleFailure(err);
    }
  }
}
