import { FailureType } from '../../src/contract/failureTypes';
import type { GatewayOutage } from '../../src/contract/sessionStatus';
import { outageAfterFailure, outageKindOf, outageNote, outageOverReason } from '../../workflows/outage';

const T0 = Date.parse('2026-12-02T03:00:00.000Z');
const MIN = 60_000;

describe('outages the session workflow tracks', () => {
  test('only a gateway that is not running and IBKR unreachable are outages', () => {
    expect(outageKindOf(FailureType.GatewayNotRunning)).toBe('gateway_not_running');
    expect(outageKindOf(FailureType.IbkrUnreachable)).toBe('ibkr_unreachable');
    for (const t of [FailureType.GatewayUnavailable, FailureType.SessionExpired, FailureType.LoginPageChanged, FailureType.Timeout]) expect(outageKindOf(t)).toBeNull();
  });

  test('starts at the first failure, is reported once past the threshold, and not again', () => {
    const first = outageAfterFailure(null, FailureType.IbkrUnreachable, T0, 5 * MIN);
    expect(first).toEqual({ outage: { kind: 'ibkr_unreachable', since: '2026-12-02T03:00:00.000Z', reportedAt: null }, report: null });
    const before = outageAfterFailure(first.outage, FailureType.IbkrUnreachable, T0 + 5 * MIN - 1, 5 * MIN);
    expect(before).toEqual({ outage: first.outage, report: null });
    const past = outageAfterFailure(before.outage, FailureType.IbkrUnreachable, T0 + 5 * MIN + 30_000, 5 * MIN);
    expect(past.outage).toEqual({ kind: 'ibkr_unreachable', since: '2026-12-02T03:00:00.000Z', reportedAt: '2026-12-02T03:05:30.000Z' });
    expect(past.report).toBe(
      'outage: IBKR unreachable through the gateway for more than 5 min (since 2026-12-02T03:00:00.000Z); ibflow cannot fix this — no login is attempted and nothing is charged to the login budget; the session recovers by itself once it ends',
    );
    expect(outageAfterFailure(past.outage, FailureType.IbkrUnreachable, T0 + 20 * MIN, 5 * MIN)).toEqual({ outage: past.outage, report: null });
  });

  test('a different kind starts a new outage; any other failure ends it (the gateway and IBKR answered)', () => {
    const ibkr: GatewayOutage = { kind: 'ibkr_unreachable', since: '2026-12-02T03:00:00.000Z', reportedAt: '2026-12-02T03:05:00.000Z' };
    expect(outageAfterFailure(ibkr, FailureType.GatewayNotRunning, T0 + 10 * MIN, 5 * MIN)).toEqual({
      outage: { kind: 'gateway_not_running', since: '2026-12-02T03:10:00.000Z', reportedAt: null },
      report: null,
    });
    expect(outageAfterFailure(ibkr, FailureType.SessionExpired, T0 + 10 * MIN, 5 * MIN)).toEqual({ outage: null, report: null });
  });

  test('the status note and the end event say what and for how long', () => {
    const o: GatewayOutage = { kind: 'gateway_not_running', since: '2026-12-02T03:00:00.000Z', reportedAt: null };
    expect(outageNote(null, T0)).toBe('');
    expect(outageNote(o, T0 + 45_000)).toBe('; the gateway not running for 45 s (since 2026-12-02T03:00:00.000Z), no login attempted meanwhile');
    expect(outageOverReason(o, T0 + 7 * MIN)).toBe('outage over: the gateway runs again after 7 min (since 2026-12-02T03:00:00.000Z)');
    expect(outageOverReason({ ...o, kind: 'ibkr_unreachable' }, T0 + 2 * MIN)).toBe('outage over: IBKR answers again after 2 min (since 2026-12-02T03:00:00.000Z)');
  });
});
