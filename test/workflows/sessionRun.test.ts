import { SessionRun, type CarriedSessionState } from '../../workflows/sessionRun';

const NOW_ISO = '2026-03-04T12:00:00.000Z';

describe('SessionRun', () => {
  test('a first run starts reconnecting, with nothing carried', () => {
    const run = new SessionRun('c1', undefined, NOW_ISO);
    expect(run.statusSnapshot()).toEqual({
      connectionId: 'c1',
      state: 'reconnecting',
      since: NOW_ISO,
      lastTickleAt: null,
      lastLoginAt: null,
      failures: 0,
      nextAttemptAt: null,
      reason: 'checking the gateway',
    });
    expect(run.carried).toEqual({ failedLoginsAtMs: [], lastTotpStep: null, lastLoginAt: null, paused: false });
    expect(run.paused).toBe(false);
  });

  test('two first runs never share their carried state', () => {
    const a = new SessionRun('a', undefined, NOW_ISO);
    a.carried.failedLoginsAtMs.push(1);
    expect(new SessionRun('b', undefined, NOW_ISO).carried.failedLoginsAtMs).toEqual([]);
  });

  test('a continued run keeps what it carried: the same object, its pause and last login', () => {
    const carried: CarriedSessionState = { failedLoginsAtMs: [5], lastTotpStep: 9, lastLoginAt: '2026-03-04T11:00:00.000Z', paused: true };
    const run = new SessionRun('c1', carried, NOW_ISO);
    expect(run.carried).toBe(carried);
    expect(run.paused).toBe(true);
    expect(run.status.lastLoginAt).toBe('2026-03-04T11:00:00.000Z');
  });

  test('the status query answers a copy', () => {
    const run = new SessionRun('c1', undefined, NOW_ISO);
    const snapshot = run.statusSnapshot();
    snapshot.state = 'usable';
    expect(run.status.state).toBe('reconnecting');
  });

  test('forceRelogin asks for a login and answers a human wait; resume un-pauses and answers too', () => {
    const run = new SessionRun('c1', undefined, NOW_ISO);
    run.onForceRelogin();
    expect([run.forceLogin, run.humanAcknowledged]).toEqual([true, true]);
    const paused = new SessionRun('c2', undefined, NOW_ISO);
    paused.onPause();
    expect(paused.paused).toBe(true);
    paused.onResume();
    expect([paused.paused, paused.humanAcknowledged, paused.forceLogin]).toEqual([false, true, false]);
  });

  test('each human request wakes a wait; sessionLost interrupts only a keepalive', () => {
    const wakes = (act: (r: SessionRun) => void) => {
      const run = new SessionRun('c', undefined, NOW_ISO);
      act(run);
      return [run.humanAsked, run.keepaliveInterrupted];
    };
    expect(wakes(() => undefined)).toEqual([false, false]);
    expect(wakes((r) => r.onForceRelogin())).toEqual([true, true]);
    expect(wakes((r) => r.onPause())).toEqual([true, true]);
    expect(wakes((r) => r.onStop())).toEqual([true, true]);
    expect(wakes((r) => r.onSessionLost('competing'))).toEqual([false, true]);
  });

  test('relogin is refused while paused or stopping', () => {
    const run = new SessionRun('c1', undefined, NOW_ISO);
    expect(run.reloginRefusal()).toBeNull();
    run.onPause();
    expect(run.reloginRefusal()).toBe('the session is paused; resume it first');
    run.onResume();
    run.onStop();
    expect(run.reloginRefusal()).toBe('the session is stopping');
  });

  test('a relogin settles after the next finished login leaves the session usable or asking a human', () => {
    const run = new SessionRun('c1', undefined, NOW_ISO);
    const before = run.loginAttemptsFinished;
    run.status.state = 'usable';
    expect(run.reloginSettled(before)).toBe(false); // usable from before the login: not yet
    run.loginAttemptsFinished++;
    run.status.state = 'reconnecting';
    expect(run.reloginSettled(before)).toBe(false);
    run.status.state = 'manual_action_required';
    expect(run.reloginSettled(before)).toBe(true);
    run.status.state = 'usable';
    expect(run.reloginSettled(before)).toBe(true);
  });

  test('a stop settles a relogin at once', () => {
    const run = new SessionRun('c1', undefined, NOW_ISO);
    run.onStop();
    expect(run.reloginSettled(run.loginAttemptsFinished)).toBe(true);
  });

  test('the cool-down flag is read once', () => {
    const run = new SessionRun('c1', undefined, NOW_ISO);
    run.cooledDownForCompeting = true;
    expect(run.takeCooledDownForCompeting()).toBe(true);
    expect(run.takeCooledDownForCompeting()).toBe(false);
  });
});
