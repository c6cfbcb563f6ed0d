import type { BrowserLoginError, BrowserLoginFailureKind } from '../src/browser/browserLogin';
import { CLOCK_SKEW_WARN_MS } from '../src/contract/sessionStatus';
import { FailureType, type FailureTypeName } from '../src/contract/failureTypes';

/** Which Temporal failure each way a browser login can fail becomes, and whether retrying may help. */
export const BROWSER_FAILURE_TYPES: Record<BrowserLoginFailureKind, { type: FailureTypeName; nonRetryable: boolean }> = {
  invalid_credentials: { type: FailureType.InvalidCredentials, nonRetryable: true },
  mode_mismatch: { type: FailureType.InvalidCredentials, nonRetryable: true },
  totp_rejected: { type: FailureType.TotpRejected, nonRetryable: true },
  second_factor_unavailable: { type: FailureType.InvalidTotpSecret, nonRetryable: true },
  account_locked: { type: FailureType.AccountLocked, nonRetryable: true },
  // Maintenance: the only browser failure that goes away by itself.
  login_unavailable: { type: FailureType.GatewayUnavailable, nonRetryable: false },
  page_changed: { type: FailureType.LoginPageChanged, nonRetryable: true },
  // A login that hangs is not retried blindly: each attempt may count toward IBKR's lock.
  timeout: { type: FailureType.LoginFailed, nonRetryable: true },
};

export interface BrowserFailureSpec {
  type: FailureTypeName;
  nonRetryable: boolean;
  message: string;
  /** The TOTP step used, if any (not secret), so the workflow never replays a code in its step. */
  details: [{ totpStep: number | null }];
}

/**
 * The ApplicationFailure fields for a failed browser login: our own words (the page's are never
 * quoted), where the evidence was saved, and for a rejected code the pod's clock skew when it is
 * the likely cause. `clockSkewMs` is read only then.
 */
export function browserLoginFailure(
  err: Pick<BrowserLoginError, 'kind' | 'message' | 'evidence'>,
  facts: { totpStep: number | null; clockSkewMs: () => number | null | undefined },
): BrowserFailureSpec {
  const { type, nonRetryable } = BROWSER_FAILURE_TYPES[err.kind];
  let message = err.message;
  if (err.kind === 'totp_rejected') {
    // The usual cause besides a wrong activation code: this pod's clock (codes are time-based).
    const skewMs = facts.clockSkewMs();
    if (typeof skewMs === 'number' && Math.abs(skewMs) > CLOCK_SKEW_WARN_MS) {
      const direction = skewMs < 0 ? 'ahead of' : 'behind';
      message += `; this pod's clock is ${Math.round(Math.abs(skewMs) / 1000)} s ${direction} the gateway's Date header — fix NTP, authenticator codes depend on the time`;
    }
  }
  if (err.evidence) message += ` (evidence: ${err.evidence.screenshot})`;
  return { type, nonRetryable, message, details: [{ totpStep: facts.totpStep }] };
}
