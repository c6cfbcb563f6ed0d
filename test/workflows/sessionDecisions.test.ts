import fc from 'fast-check';
import { FailureType, PERMANENT_FAILURES } from '../../src/contract/failureTypes';
import { DEFAULT_BACKOFF, backoffDelayMs } from '../../workflows/backoff';
import type { FailureInfo } from '../../workflows/failureOf';
import { LOGIN_BUDGET_WINDOW_MS } from '../../workflows/loginBudget';
import {
  afterFailedLogin,
  afterNoBridgeCheck,
  checkMayMeetMaintenance,
  continueAsNewDue,
  COUNTED_LOGIN_FAILURES,
  decideAfterFailure,
  ESCALATE_TO_LOGIN_REASON,
  freshLoginAfterMaintenance,
  loginGate,
  maintenanceWait,
  MAX_SSODH_INIT_TRIES,
  nextLoopStep,
  pacingEventReason,
  samePenalty,
  stepAfterCheck,
  UNAVAILABLE_FAILURES,
  usableReason,
  verdictOnKeepaliveEnded,
  verdictOnSessionLost,
  type FailureContext,
  type LoopFlags,
} from '../../workflows/sessionDecisions';

const NOW = Date.parse('2026-03-04T12:00:00Z'); // a Wednesday, outside IBKR's default windows
const H = 60 * 60 * 1000;
const noJitter = (): number => 0.5;
const failure = (type: string, details: unknown[] = [], message = `scripted ${type}`): FailureInfo => ({ type, message, details });
const context = (over: Partial<FailureContext> = {}): FailureContext => ({ failures: 0, failedLoginsAtMs: [], nowMs: NOW, maxFailedLoginsPerDay: 3, ...over });
/** A random source that counts its draws (the workflow's Math.random is a seeded sequence: draws must not change). */
function countingRandom(value = 0.5): { random: () => number; draws: () => number } {
  let n = 0;
  return { random: () => (n++, value), draws: () => n };
}

describe('nextLoopStep', () => {
  const none: LoopFlags = { stopRequested: false, paused: false, continueAsNewDue: false, forceLogin: false };

  test('checks the gateway when nothing is asked', () => {
    expect(nextLoopStep(none)).toBe('check');
  });

  test('each flag alone picks its step', () => {
    expect(nextLoopStep({ ...none, stopRequested: true })).toBe('stop');
    expect(nextLoopStep({ ...none, paused: true })).toBe('pause');
    expect(nextLoopStep({ ...none, continueAsNewDue: true })).toBe('continueAsNew');
    expect(nextLoopStep({ ...none, forceLogin: true })).toBe('login');
  });

  test('priority: stop, then pause, then continueAsNew, then a forced login (property)', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), (stopRequested, paused, due, forceLogin) => {
        const step = nextLoopStep({ stopRequested, paused, continueAsNewDue: due, forceLogin });
        const expected = stopRequested ? 'stop' : paused ? 'pause' : due ? 'continueAsNew' : forceLogin ? 'login' : 'check';
        expect(step).toBe(expected);
      }),
    );
  });
});

describe('continueAsNewDue', () => {
  test('when Temporal suggests it', () => {
    expect(continueAsNewDue({ continueAsNewSuggested: true, historyLength: 10 }, undefined)).toBe(true);
  });
  test('never by length without a starter limit', () => {
    expect(continueAsNewDue({ continueAsNewSuggested: false, historyLength: 1_000_000 }, undefined)).toBe(false);
  });
  test('at the starter limit, not one event before', () => {
    expect(continueAsNewDue({ continueAsNewSuggested: false, historyLength: 79 }, 80)).toBe(false);
    expect(continueAsNewDue({ continueAsNewSuggested: false, historyLength: 80 }, 80)).toBe(true);
  });
});

describe('stepAfterCheck', () => {
  test('each check kind leads to its step', () => {
    expect(stepAfterCheck({ kind: 'usable', serverName: 'gw1', clockSkewMs: 1_500 })).toEqual({ step: 'keepAlive', serverName: 'gw1', clockSkewMs: 1_500, pacing: null });
    expect(stepAfterCheck({ kind: 'no_bridge' })).toEqual({ step: 'openBrokerageSession' });
    expect(stepAfterCheck({ kind: 'sso_gone' })).toEqual({ step: 'login' });
    expect(stepAfterCheck({ kind: 'competing' })).toEqual({ step: 'reclaim' });
  });

  test('an unknown clock skew is null', () => {
    expect(stepAfterCheck({ kind: 'usable', serverName: 'gw1' })).toMatchObject({ clockSkewMs: null });
  });

  test('only a session that is not usable waits out maintenance', () => {
    expect(checkMayMeetMaintenance({ kind: 'usable', serverName: '' })).toBe(false);
    expect(checkMayMeetMaintenance({ kind: 'no_bridge' })).toBe(true);
    expect(checkMayMeetMaintenance({ kind: 'sso_gone' })).toBe(true);
    expect(checkMayMeetMaintenance({ kind: 'competing' })).toBe(true);
  });
});

describe('usableReason', () => {
  test('names the server, or "gateway" without one', () => {
    expect(usableReason({ serverName: 'JifN19', clockSkewMs: null })).toBe('brokerage session open (JifN19)');
    expect(usableReason({ serverName: '', clockSkewMs: null })).toBe('brokerage session open (gateway)');
  });

  test('a skew of 10 s or less says nothing; more names it in seconds, either sign', () => {
    expect(usableReason({ serverName: 'g', clockSkewMs: 10_000 })).toBe('brokerage session open (g)');
    expect(usableReason({ serverName: 'g', clockSkewMs: 12_400 })).toBe(
      'brokerage session open (g); clock skew 12 s between this pod and the gateway — fix NTP, authenticator codes may be rejected',
    );
    expect(usableReason({ serverName: 'g', clockSkewMs: -30_000 })).toContain('clock skew -30 s');
  });

  test('a penalty box on the address is named with its expected end and who caused it', () => {
    const pacing = { since: '2026-12-02T10:00:00.000Z', until: '2026-12-02T10:15:00.000Z', cause: 'another client did it', path: '/tickle' };
    expect(usableReason({ serverName: 'g', pacing })).toBe(
      'brokerage session open (g); REST requests paused until 2026-12-02T10:15:00.000Z (the gateway answers 429: another client did it); the session is kept alive over the websocket and depth keeps streaming',
    );
    expect(usableReason({ serverName: 'g', pacing: null })).toBe('brokerage session open (g)');
  });
});

describe('penalty box events', () => {
  const p = { since: '2026-12-02T10:00:00.000Z', until: '2026-12-02T10:15:00.000Z', cause: 'c', path: '/tickle' };
  test('start, extension and end read differently', () => {
    expect(pacingEventReason(p, true)).toMatch(/^pacing penalty \(refused \/tickle since 2026-12-02T10:00:00.000Z\): REST requests paused until 2026-12-02T10:15/);
    expect(pacingEventReason(p, false)).toMatch(/^pacing penalty extended/);
    expect(pacingEventReason(null, false)).toMatch(/^pacing penalty over: .*without a new login/);
  });
  test('the same box told twice is one; a later end is another', () => {
    expect(samePenalty(p, { ...p })).toBe(true);
    expect(samePenalty(p, { ...p, until: '2026-12-02T10:16:00.000Z' })).toBe(false);
    expect(samePenalty(null, null)).toBe(true);
    expect(samePenalty(p, null)).toBe(false);
  });
});

describe('what a finished keepalive means', () => {
  test('a refresh is healthy', () => {
    expect(verdictOnKeepaliveEnded('refresh')).toEqual({ kind: 'healthy' });
  });
  test('each trouble has its reason', () => {
    expect(verdictOnKeepaliveEnded('not_authenticated')).toEqual({ kind: 'reconnect', why: 'gateway says the brokerage session is no longer authenticated' });
    expect(verdictOnKeepaliveEnded('sso_gone')).toEqual({ kind: 'reconnect', why: 'the gateway session expired or was logged out' });
    expect(verdictOnKeepaliveEnded('competing')).toEqual({ kind: 'competing', why: 'a login elsewhere (TWS, mobile, web or another gateway) took the session' });
  });
  test("the depth stream's sessionLost: competing when its reason says so", () => {
    expect(verdictOnSessionLost('sts: not authenticated')).toEqual({ kind: 'reconnect', why: 'the depth stream saw the session drop (sts: not authenticated)' });
    expect(verdictOnSessionLost('competing session')).toEqual({
      kind: 'competing',
      why: 'a login elsewhere (TWS, mobile, web or another gateway) took the session (seen by the depth stream)',
    });
  });
});

describe('ssodh/init escalation', () => {
  test('three no-bridge checks open the brokerage session; the fourth escalates to a login', () => {
    let checks = 0;
    const escalations: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      const r = afterNoBridgeCheck(checks);
      checks = r.noBridgeChecks;
      escalations.push(r.escalateToLogin);
    }
    expect(MAX_SSODH_INIT_TRIES).toBe(3);
    expect(escalations).toEqual([false, false, false, true]);
    expect(checks).toBe(4);
    expect(ESCALATE_TO_LOGIN_REASON).toBe('ssodh/init did not open the brokerage session 3× in a row; logging in afresh');
  });

  test('escalates exactly past the tries (property)', () => {
    fc.assert(
      fc.property(fc.nat(1_000), (n) => {
        const r = afterNoBridgeCheck(n);
        expect(r.noBridgeChecks).toBe(n + 1);
        expect(r.escalateToLogin).toBe(n + 1 > 3);
      }),
    );
  });
});

describe('loginGate', () => {
  test('a live login types the authenticator code; a paper login does not', () => {
    expect(loginGate([], NOW, 3, 'live')).toEqual({ kind: 'login', failedLoginsAtMs: [], reason: 'browser login with the authenticator-app code' });
    expect(loginGate([], NOW, 3, 'paper')).toEqual({ kind: 'login', failedLoginsAtMs: [], reason: 'browser login' });
  });

  test('forgets failures older than 24 h', () => {
    expect(loginGate([NOW - 25 * H, NOW - H], NOW, 3, 'paper').failedLoginsAtMs).toEqual([NOW - H]);
  });

  test('an exhausted budget asks for a human, naming the count and the budget', () => {
    expect(loginGate([NOW - 3 * H, NOW - 2 * H, NOW - H], NOW, 3, 'live')).toEqual({
      kind: 'budgetExhausted',
      failedLoginsAtMs: [NOW - 3 * H, NOW - 2 * H, NOW - H],
      reason: '3 failed logins in 24 h (budget 3); check the credentials, then send forceRelogin — further attempts could lock the IBKR account',
    });
  });

  test('exhausted exactly when the recent failures reach the budget (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -48 * H, max: 0 }), { maxLength: 8 }), fc.integer({ min: 1, max: 5 }), (ages, max) => {
        const failed = ages.map((a) => NOW + a);
        const gate = loginGate(failed, NOW, max, 'paper');
        const recent = failed.filter((t) => NOW - t < LOGIN_BUDGET_WINDOW_MS);
        expect(gate.failedLoginsAtMs).toEqual(recent);
        expect(gate.kind).toBe(recent.length >= max ? 'budgetExhausted' : 'login');
      }),
    );
  });
});

describe('afterFailedLogin', () => {
  const remembered = { failedLoginsAtMs: [NOW - H], lastTotpStep: 41 };

  test('remembers the TOTP step the attempt used, so it is never replayed', () => {
    expect(afterFailedLogin(failure(FailureType.TotpRejected, [{ totpStep: 42 }]), remembered, NOW).lastTotpStep).toBe(42);
  });

  test('keeps the previous step when the failure names none', () => {
    expect(afterFailedLogin(failure(FailureType.LoginFailed, [{ totpStep: null }]), remembered, NOW).lastTotpStep).toBe(41);
    expect(afterFailedLogin(failure(FailureType.GatewayUnavailable), remembered, NOW).lastTotpStep).toBe(41);
  });

  test.each(COUNTED_LOGIN_FAILURES)('%s counts against the login budget', (type) => {
    expect(afterFailedLogin(failure(type), remembered, NOW).failedLoginsAtMs).toEqual([NOW - H, NOW]);
  });

  test.each([FailureType.GatewayUnavailable, FailureType.Timeout, FailureType.SecretMissing, FailureType.InvalidTotpSecret, 'Unknown'])('%s does not count', (type) => {
    expect(afterFailedLogin(failure(type), remembered, NOW).failedLoginsAtMs).toEqual([NOW - H]);
  });

  test('does not modify what it was given', () => {
    afterFailedLogin(failure(FailureType.LoginFailed, [{ totpStep: 7 }]), remembered, NOW);
    expect(remembered).toEqual({ failedLoginsAtMs: [NOW - H], lastTotpStep: 41 });
  });
});

describe('decideAfterFailure', () => {
  test.each(PERMANENT_FAILURES)('%s waits for a human, with the type and message as the reason', (type) => {
    const { random, draws } = countingRandom();
    expect(decideAfterFailure(failure(type, [], 'bad'), context(), random)).toEqual({ kind: 'waitForHuman', reason: `${type}: bad` });
    expect(draws()).toBe(0);
  });

  test('a rejected TOTP code within the budget: one more try after a backoff, as reconnecting', () => {
    const { random, draws } = countingRandom();
    const decision = decideAfterFailure(failure(FailureType.TotpRejected, [], 'code rejected'), context({ failures: 1, failedLoginsAtMs: [NOW] }), random);
    expect(decision).toEqual({ kind: 'backOff', state: 'reconnecting', failures: 2, delayMs: 4_000, reason: 'TotpRejected: code rejected' });
    expect(draws()).toBe(1);
  });

  test('a rejected TOTP code with the budget spent waits for a human, naming the budget', () => {
    const { random, draws } = countingRandom();
    const decision = decideAfterFailure(failure(FailureType.TotpRejected, [], 'code rejected'), context({ failedLoginsAtMs: [NOW - 25 * H, NOW - 2, NOW - 1, NOW] }), random);
    expect(decision).toEqual({ kind: 'waitForHuman', reason: '3 failed logins in 24 h (budget 3); TotpRejected: code rejected' });
    expect(draws()).toBe(0);
  });

  test.each([
    [FailureType.GatewayUnavailable, 'unavailable'],
    [FailureType.Timeout, 'unavailable'],
    [FailureType.RateLimited, 'unavailable'],
    [FailureType.NoBridge, 'reconnecting'],
    [FailureType.SessionExpired, 'reconnecting'],
    [FailureType.LoginFailed, 'reconnecting'],
    [FailureType.CompetingSession, 'reconnecting'],
    ['Cancelled', 'reconnecting'],
    ['Unknown', 'reconnecting'],
  ])('%s backs off as %s', (type, state) => {
    expect(decideAfterFailure(failure(type, [], 'm'), context({ failures: 2 }), noJitter)).toEqual({ kind: 'backOff', state, failures: 3, delayMs: 8_000, reason: `${type}: m` });
  });

  test('the states: exactly the unavailable failures are unavailable', () => {
    expect([...UNAVAILABLE_FAILURES].sort()).toEqual(['GatewayNotRunning', 'GatewayUnavailable', 'IbkrUnreachable', 'RateLimited', 'Timeout']);
  });

  test.each([FailureType.GatewayNotRunning, FailureType.IbkrUnreachable])('%s is an outage: unavailable, and checked again within 30 s however many failures', (type) => {
    expect(decideAfterFailure(failure(type, [], 'm'), context({ failures: 1 }), noJitter)).toEqual({ kind: 'backOff', state: 'unavailable', failures: 2, delayMs: 4_000, reason: `${type}: m` });
    expect(decideAfterFailure(failure(type, [], 'm'), context({ failures: 9 }), noJitter)).toMatchObject({ delayMs: 30_000 });
    // The generic gateway failure keeps its full backoff.
    expect(decideAfterFailure(failure(FailureType.GatewayUnavailable, [], 'm'), context({ failures: 9 }), noJitter)).toMatchObject({ delayMs: 5 * 60_000 });
  });

  test("a 429 waits at least its Retry-After (IBKR's 15-minute penalty box)", () => {
    const d = decideAfterFailure(failure(FailureType.RateLimited, [{ retryAfterMs: 15 * 60_000 }]), context(), noJitter);
    expect(d).toMatchObject({ kind: 'backOff', state: 'unavailable', delayMs: 15 * 60_000 });
  });

  test('a Retry-After shorter than the backoff does not shorten it; a missing one is ignored', () => {
    expect(decideAfterFailure(failure(FailureType.RateLimited, [{ retryAfterMs: 1_000 }]), context({ failures: 3 }), noJitter)).toMatchObject({ delayMs: 16_000 });
    expect(decideAfterFailure(failure(FailureType.RateLimited, [{}]), context(), noJitter)).toMatchObject({ delayMs: 2_000 });
    expect(decideAfterFailure(failure(FailureType.RateLimited), context(), noJitter)).toMatchObject({ delayMs: 2_000 });
  });

  test('retryAfterMs on another failure type is not honoured', () => {
    expect(decideAfterFailure(failure(FailureType.GatewayUnavailable, [{ retryAfterMs: 60_000 }]), context(), noJitter)).toMatchObject({ delayMs: 2_000 });
  });

  const transientTypes = fc.constantFrom<string>(
    FailureType.GatewayUnavailable,
    FailureType.Timeout,
    FailureType.RateLimited,
    FailureType.NoBridge,
    FailureType.SessionExpired,
    FailureType.LoginFailed,
    'Unknown',
  );

  test('a transient failure: failures + 1, the backoff of that count, one random draw (property)', () => {
    fc.assert(
      fc.property(transientTypes, fc.nat(40), fc.double({ min: 0, max: 0.999999, noNaN: true }), (type, failures, r) => {
        const { random, draws } = countingRandom(r);
        const d = decideAfterFailure(failure(type), context({ failures }), random);
        expect(d).toMatchObject({ kind: 'backOff', failures: failures + 1, delayMs: backoffDelayMs(failures + 1, () => r) });
        expect(draws()).toBe(1);
        if (d.kind === 'backOff') expect(d.delayMs).toBeLessThanOrEqual(DEFAULT_BACKOFF.maxMs);
      }),
    );
  });

  test('a 429 waits max(backoff, Retry-After) (property)', () => {
    fc.assert(
      fc.property(fc.nat(20), fc.nat(60 * 60_000), (failures, retryAfterMs) => {
        const d = decideAfterFailure(failure(FailureType.RateLimited, [{ retryAfterMs }]), context({ failures }), noJitter);
        expect(d).toMatchObject({ delayMs: Math.max(backoffDelayMs(failures + 1, noJitter), retryAfterMs) });
      }),
    );
  });

  test('a permanent failure never backs off, whatever the budget (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PERMANENT_FAILURES), fc.array(fc.integer({ min: -30 * H, max: 0 }), { maxLength: 6 }), fc.nat(10), (type, ages, failures) => {
        const d = decideAfterFailure(failure(type), context({ failures, failedLoginsAtMs: ages.map((a) => NOW + a) }), Math.random);
        expect(d.kind).toBe('waitForHuman');
      }),
    );
  });

  test('a rejected TOTP code backs off exactly while the budget lasts (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -30 * H, max: 0 }), { maxLength: 6 }), fc.integer({ min: 1, max: 5 }), (ages, max) => {
        const failed = ages.map((a) => NOW + a);
        const recent = failed.filter((t) => NOW - t < LOGIN_BUDGET_WINDOW_MS).length;
        const d = decideAfterFailure(failure(FailureType.TotpRejected), context({ failedLoginsAtMs: failed, maxFailedLoginsPerDay: max }), noJitter);
        expect(d.kind).toBe(recent < max ? 'backOff' : 'waitForHuman');
      }),
    );
  });
});

describe('maintenance', () => {
  const calendar = { daily: [{ zone: 'UTC', start: '11:50', end: '12:30' }], weekly: [] };
  const endsAtMs = Date.parse('2026-03-04T12:30:00Z');

  test('outside every window: no wait, and no random draw', () => {
    const { random, draws } = countingRandom();
    expect(maintenanceWait(NOW, { daily: [], weekly: [] }, random)).toBeNull();
    expect(draws()).toBe(0);
  });

  test("inside a window: until its end plus up to a minute of jitter, naming the window's end", () => {
    const { random, draws } = countingRandom(0.5);
    expect(maintenanceWait(NOW, calendar, random)).toEqual({
      endsAtMs,
      resumeAtMs: endsAtMs + 30_000,
      reason: 'IBKR daily reset until 2026-03-04T12:30:00.000Z; a fresh login follows',
    });
    expect(draws()).toBe(1);
  });

  test('the jitter stays within [0, 60 s] (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 0.999999, noNaN: true }), (r) => {
        const wait = maintenanceWait(NOW, calendar, () => r)!;
        expect(wait.resumeAtMs - wait.endsAtMs).toBeGreaterThanOrEqual(0);
        expect(wait.resumeAtMs - wait.endsAtMs).toBeLessThanOrEqual(60_000);
      }),
    );
  });

  test('a fresh login follows the window, unless a stop or pause cut the wait short', () => {
    const wait = maintenanceWait(NOW, calendar, noJitter)!;
    const flags = { stopRequested: false, paused: false };
    expect(freshLoginAfterMaintenance(endsAtMs, wait, flags)).toBe(true);
    expect(freshLoginAfterMaintenance(endsAtMs - 1, wait, flags)).toBe(false); // woken early (a forceRelogin logs in anyway)
    expect(freshLoginAfterMaintenance(endsAtMs, wait, { ...flags, paused: true })).toBe(false);
    expect(freshLoginAfterMaintenance(endsAtMs, wait, { ...flags, stopRequested: true })).toBe(false);
  });
});
