/** Every way a browser login can fail, mapped to its Temporal failure: type, retryability, details, message. */
import { BROWSER_FAILURE_TYPES, browserLoginFailure } from '../../activities/browserLoginFailure';
import type { BrowserLoginFailureKind } from '../../src/browser/browserLogin';
import { FailureType, PERMANENT_FAILURES } from '../../src/contract/failureTypes';

const noSkew = () => null;

test.each<[BrowserLoginFailureKind, string, boolean]>([
  ['invalid_credentials', FailureType.InvalidCredentials, true],
  ['mode_mismatch', FailureType.InvalidCredentials, true],
  ['totp_rejected', FailureType.TotpRejected, true],
  ['second_factor_unavailable', FailureType.InvalidTotpSecret, true],
  ['account_locked', FailureType.AccountLocked, true],
  ['login_unavailable', FailureType.GatewayUnavailable, false],
  ['page_changed', FailureType.LoginPageChanged, true],
  ['timeout', FailureType.LoginFailed, true],
])('%s becomes %s (nonRetryable %p), with the TOTP step in details', (kind, type, nonRetryable) => {
  const failure = browserLoginFailure({ kind, message: `words for ${kind}` }, { totpStep: 1234, clockSkewMs: noSkew });
  expect(failure).toEqual({ type, nonRetryable, message: `words for ${kind}`, details: [{ totpStep: 1234 }] });
});

test('the table names every failure kind, and only maintenance is retryable', () => {
  expect(Object.keys(BROWSER_FAILURE_TYPES).sort()).toEqual(
    ['account_locked', 'invalid_credentials', 'login_unavailable', 'mode_mismatch', 'page_changed', 'second_factor_unavailable', 'timeout', 'totp_rejected'],
  );
  const retryable = Object.entries(BROWSER_FAILURE_TYPES).filter(([, f]) => !f.nonRetryable).map(([k]) => k);
  expect(retryable).toEqual(['login_unavailable']);
  // Wrong credentials, secrets or a lock must reach a human: the workflow treats them as permanent too.
  for (const kind of ['invalid_credentials', 'mode_mismatch', 'second_factor_unavailable', 'account_locked', 'page_changed'] as const) {
    expect(PERMANENT_FAILURES).toContain(BROWSER_FAILURE_TYPES[kind].type);
  }
});

test('a login without a second factor carries totpStep null', () => {
  expect(browserLoginFailure({ kind: 'invalid_credentials', message: 'x' }, { totpStep: null, clockSkewMs: noSkew }).details).toEqual([{ totpStep: null }]);
});

test('saved evidence is named in the message', () => {
  const failure = browserLoginFailure(
    { kind: 'page_changed', message: 'login page has no username field', evidence: { screenshot: '/state/evidence/c1/login-1.png', dom: '/state/evidence/c1/login-1.html' } },
    { totpStep: null, clockSkewMs: noSkew },
  );
  expect(failure.message).toBe('login page has no username field (evidence: /state/evidence/c1/login-1.png)');
});

describe('a rejected code and the pod clock', () => {
  const rejected = (skew: number | null | undefined, evidence?: { screenshot: string; dom: string }) =>
    browserLoginFailure({ kind: 'totp_rejected', message: 'the authenticator code was not accepted', evidence }, { totpStep: 7, clockSkewMs: () => skew });

  test.each([
    [-45_000, "this pod's clock is 45 s ahead of the gateway's Date header — fix NTP"],
    [60_000, "this pod's clock is 60 s behind the gateway's Date header — fix NTP"],
  ])('a skew of %p ms is named as the likely cause', (skew, words) => {
    expect(rejected(skew).message).toContain(words);
  });

  test.each([0, 2_000, -2_000, null, undefined])('a skew of %p ms (or none measured) adds nothing', (skew) => {
    expect(rejected(skew).message).toBe('the authenticator code was not accepted');
  });

  test('the skew note comes before the evidence', () => {
    expect(rejected(-45_000, { screenshot: '/e/s.png', dom: '/e/d.html' }).message).toMatch(/fix NTP, authenticator codes depend on the time \(evidence: \/e\/s\.png\)$/);
  });

  test('the clock is read only for a rejected code', () => {
    const clockSkewMs = jest.fn(() => -45_000);
    for (const kind of Object.keys(BROWSER_FAILURE_TYPES) as BrowserLoginFailureKind[]) {
      if (kind !== 'totp_rejected') browserLoginFailure({ kind, message: 'm' }, { totpStep: null, clockSkewMs });
    }
    expect(clockSkewMs).not.toHaveBeenCalled();
  });
});
