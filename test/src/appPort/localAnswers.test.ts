import { localAuthStatus, localTickle, pacerRefused, pathBlocked, sessionNotUsable } from '../../../src/appPort/localAnswers';

const TICKLE = { session: 's1', ssoExpires: 300_000, collission: false, iserver: { authStatus: { authenticated: true, competing: false, connected: true } } };

describe('local answers', () => {
  test('a local tickle counts ssoExpires down by its age, never below 0', () => {
    expect(localTickle({ body: TICKLE, ageMs: 2_500 }).body.ssoExpires).toBe(297_500);
    expect(localTickle({ body: TICKLE, ageMs: 400_000 }).body.ssoExpires).toBe(0);
    expect(localTickle({ body: TICKLE, ageMs: 2_500 }).body.session).toBe('s1');
    expect(TICKLE.ssoExpires).toBe(300_000);
  });

  test('auth status comes from the fresh auth status, else from the fresh tickle, else nothing', () => {
    const own = { body: { authenticated: true, connected: true, fromAuth: 1 }, ageMs: 10 };
    expect(localAuthStatus(own, { body: TICKLE, ageMs: 5 })?.body).toEqual(own.body);
    expect(localAuthStatus(null, { body: TICKLE, ageMs: 5 })?.body).toEqual(TICKLE.iserver.authStatus);
    expect(localAuthStatus(null, { body: { session: 's1' }, ageMs: 5 })).toBeNull();
    expect(localAuthStatus(null, null)).toBeNull();
  });

  test('Retry-After is in whole seconds, rounded up, at least 1', () => {
    expect(pathBlocked('/v1/api/tickle', 1_200).retryAfterSeconds).toBe(2);
    expect(pathBlocked('/v1/api/tickle', 1).retryAfterSeconds).toBe(1);
    expect(pacerRefused('/v1/api/tickle', { why: 'queue_full', retryAfterMs: 3_000 }).retryAfterSeconds).toBe(3);
    expect(pacerRefused('/v1/api/tickle', { why: 'too_long', retryAfterMs: 0 }).retryAfterSeconds).toBe(1);
  });

  test('not usable: the safe status, and Retry-After until the next attempt', () => {
    const now = Date.parse('2026-01-05T10:00:00Z');
    const answer = sessionNotUsable({ connectionId: 'demo-paper', state: 'unavailable', reason: 'gateway unreachable', nextAttemptAt: '2026-01-05T10:00:42.300Z' }, now);
    expect(answer.status).toBe(503);
    expect(answer.retryAfterSeconds).toBe(43);
    expect(answer.body.ibflow).toEqual({ connection: 'demo-paper', state: 'unavailable', reason: 'gateway unreachable', nextAttemptAt: '2026-01-05T10:00:42.300Z' });
    expect(sessionNotUsable({ connectionId: 'c', state: 'manual_action_required', reason: 'log in again', nextAttemptAt: null }, now).retryAfterSeconds).toBeGreaterThan(0);
  });
});
