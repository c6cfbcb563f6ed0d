/**
 * The three safe statuses programs on the pod are told (the brief "Interactive Brokers Client
 * Portal Gateway"): usable, manual_action_required (only a person can help), unavailable (ibflow is
 * working on it, or the gateway cannot be reached). Derived from the session's status, never from
 * anything the gateway sent.
 */
import type { SessionStatus } from './sessionStatus';

export type SafeSessionState = 'usable' | 'manual_action_required' | 'unavailable';

export interface SafeStatus {
  connectionId: string;
  state: SafeSessionState;
  /** Written by ibflow, never copied from the gateway; holds no secret. */
  reason: string;
  nextAttemptAt: string | null;
}

export function safeStatusOf(s: SessionStatus): SafeStatus {
  return { connectionId: s.connectionId, state: safeStateOf(s), reason: s.reason, nextAttemptAt: s.nextAttemptAt };
}

function safeStateOf(s: SessionStatus): SafeSessionState {
  switch (s.state) {
    case 'usable':
      return 'usable';
    case 'manual_action_required':
      return 'manual_action_required';
    case 'competing':
      // Without a time to take it back, ibflow waits for a person (the wait-for-human policy or the flip-flop guard).
      return s.nextAttemptAt === null ? 'manual_action_required' : 'unavailable';
    default:
      return 'unavailable';
  }
}
