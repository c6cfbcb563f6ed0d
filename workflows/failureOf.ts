import { ActivityFailure, ApplicationFailure, CancelledFailure, TimeoutFailure } from '@temporalio/workflow';
import { FailureType } from '../src/contract/failureTypes';

export interface FailureInfo {
  type: string;
  message: string;
  details: unknown[];
}

/** Reads the typed failure an activity threw (or Temporal's own timeout) without parsing messages. */
export function failureOf(err: unknown): FailureInfo {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    return { type: cause.type ?? 'Error', message: cause.message, details: (cause.details ?? []) as unknown[] };
  }
  if (cause instanceof TimeoutFailure) return { type: FailureType.Timeout, message: 'activity timed out (is the pod worker running?)', details: [] };
  if (cause instanceof CancelledFailure) return { type: 'Cancelled', message: 'cancelled', details: [] };
  return { type: 'Unknown', message: cause instanceof Error ? cause.message : String(cause), details: [] };
}
