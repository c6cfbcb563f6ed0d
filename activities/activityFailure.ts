import { ApplicationFailure } from '@temporalio/activity';
import { GatewayError } from '../src/gateway/gatewayError';
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
    case 'bad_response':
      return ApplicationFailure.create({ type: FailureType.GatewayUnavailable, message: err.message });
  }
}
