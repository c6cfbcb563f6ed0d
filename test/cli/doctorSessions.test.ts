/** What `ibflow doctor` says of each session, from the status its workflow reports (pure). */
import { sessionCheck } from '../../cli/commands/doctor';
import type { SessionStatus } from '../../src/contract/sessionStatus';

const base: SessionStatus = {
  connectionId: 'demo-paper',
  state: 'usable',
  since: '2026-12-02T10:00:00.000Z',
  lastTickleAt: null,
  lastLoginAt: null,
  failures: 0,
  nextAttemptAt: null,
  reason: 'brokerage session open (sim)',
};

test('usable is ok; a penalty box on the address is a warning naming its end and cause, with a fix', () => {
  expect(sessionCheck('demo-paper', 'running', base)).toEqual({ name: 'session demo-paper', status: 'ok', detail: 'usable since 2026-12-02T10:00:00.000Z' });
  const boxed = sessionCheck('demo-paper', 'running', {
    ...base,
    pacing: { since: '2026-12-02T10:05:00.000Z', until: '2026-12-02T10:20:00.000Z', cause: 'another client on this gateway exceeded IBKR\'s pacing', path: '/tickle' },
  });
  expect(boxed.status).toBe('warn');
  expect(boxed.detail).toMatch(/^usable since .*penalty box\) since 2026-12-02T10:05:00.000Z, expected until 2026-12-02T10:20:00.000Z: another client/);
  expect(boxed.fix).toMatch(/app port/);
});

test('manual action fails with the reason; other states warn with the next attempt; no workflow warns', () => {
  const manual = sessionCheck('demo-paper', 'running', { ...base, state: 'manual_action_required', reason: 'InvalidCredentials: wrong password' });
  expect(manual).toMatchObject({ status: 'fail', detail: expect.stringContaining('InvalidCredentials'), fix: expect.stringContaining('ibflow session relogin demo-paper') });
  const backing = sessionCheck('demo-paper', 'running', { ...base, state: 'unavailable', reason: 'GatewayUnavailable: down', nextAttemptAt: '2026-12-02T10:01:00.000Z' });
  expect(backing).toMatchObject({ status: 'warn', detail: 'unavailable since 2026-12-02T10:00:00.000Z: GatewayUnavailable: down; next attempt 2026-12-02T10:01:00.000Z' });
  expect(sessionCheck('demo-paper', 'not_started', null)).toMatchObject({ status: 'warn', detail: 'no session workflow running' });
});

test('an outage names what is down and since when; past its threshold it fails', () => {
  const outage = { kind: 'ibkr_unreachable' as const, since: '2026-12-02T10:00:05.000Z', reportedAt: null };
  const going = sessionCheck('demo-paper', 'running', { ...base, state: 'unavailable', reason: 'IbkrUnreachable: …', nextAttemptAt: '2026-12-02T10:01:00.000Z', outage });
  expect(going).toMatchObject({
    status: 'warn',
    detail: 'unavailable since 2026-12-02T10:00:00.000Z: an outage, IBKR unreachable through the gateway since 2026-12-02T10:00:05.000Z; no login is attempted meanwhile; next check 2026-12-02T10:01:00.000Z',
    fix: expect.stringMatching(/internet connection/),
  });
  const reported = sessionCheck('demo-paper', 'running', { ...base, state: 'unavailable', reason: '…', outage: { ...outage, kind: 'gateway_not_running', reportedAt: '2026-12-02T10:05:05.000Z' } });
  expect(reported).toMatchObject({ status: 'fail', detail: expect.stringMatching(/the gateway not running since .* \(reported as lasting at 2026-12-02T10:05:05.000Z\)/), fix: expect.stringMatching(/start the Client Portal Gateway/) });
});

test("a usable session shows the clock skew it measured; beyond 5 s it warns", () => {
  expect(sessionCheck('demo-paper', 'running', { ...base, clockSkewMs: -1_200 })).toMatchObject({ status: 'ok', detail: expect.stringMatching(/clock is 1\.2 s ahead of IBKR's/) });
  expect(sessionCheck('demo-paper', 'running', { ...base, clockSkewMs: 30_000 })).toMatchObject({ status: 'warn', detail: expect.stringMatching(/30\.0 s behind IBKR's/), fix: expect.stringMatching(/NTP/) });
});
