import { ApplicationFailure } from '@temporalio/activity';
import { GatewayError } from '../src/gateway/gatewayError';
import type { GatewayReach } from '../src/gateway/gatewayReach';
import { FailureType } from '../src/contract/failureTypes';

/**
 * Turns a gateway error into a typed Temporal failure: the workflow decides by `type`, never by
 * message text. A 429 carries its own wait as nextRetryDelay.
 */
export function gatewayFailure(err: unknown): Error {
  if (!(err instanceof GatewayError)) return err instanceof Error ? err : new Error(String(err));
  switch (err.kind) {
    case 'unauthorized':
      return ApplicationFailure.create({ type: FailureType.SessionExpired, message: err.message, nonRetryable: true });
    case 'no_bridge':
      return ApplicationFailure.create({ type: FailureType.NoBridge, message: err.message, nonRetryable: true });
    case 'rate_limited':
      return ApplicationFailure.create({
        type: FailureType.RateLimited,
        message: err.message,
        nextRetryDelay: err.retryAfterMs,
        details: [{ retryAfterMs: err.retryAfterMs }],
      });
    case 'unavailable':
      return err.reach ? reachFailure(err.reach, err.message) : ApplicationFailure.create({ type: FailureType.GatewayUnavailable, message: err.message });
    case 'bad_response':
      return ApplicationFailure.create({ type: FailureType.GatewayUnavailable, message: err.message });
  }
}

/**
 * A gateway that is not running, or IBKR unreachable behind it: an outage, retried by the workflow
 * without charging anything to the login budget.
 */
export function reachFailure(reach: Exclude<GatewayReach, 'answering'>, message: string, details?: unknown[]): ApplicationFailure {
  const type = reach === 'not_running' ? FailureType.GatewayNotRunning : reach === 'ibkr_unreachable' ? FailureType.IbkrUnreachable : FailureType.GatewayUnavailable;
  return ApplicationFailure.create({ type, message, ...(details ? { details } : {}) });
}
