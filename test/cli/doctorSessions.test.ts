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
