/**
 * A gateway that drops every new session at once would otherwise get a fresh login each time:
 * sessions that die within 20 s of becoming usable count, the next login waits a growing backoff,
 * and a session usable for 100 s clears the count. Pure: time and randomness are passed in.
 */
import { backoffDelayMs } from './backoff';

export const SHORT_LIVED_MS = 20_000;
/** A session usable this long is healthy again: the count starts over. */
export const SHORT_LIVED_RESET_MS = 5 * SHORT_LIVED_MS;

export interface KeepaliveSpan {
  usableForMs: number;
  /** The session left `usable` (a keepalive refresh leaves it as it was). */
  troubled: boolean;
  /** A human's forceRelogin, pause or stop ended it: that does not count against the gateway. */
  interruptedByHuman: boolean;
}

export function shortLivedCountAfter(count: number, span: KeepaliveSpan): number {
  if (span.troubled && span.usableForMs < SHORT_LIVED_MS && !span.interruptedByHuman) return count + 1;
  if (span.usableForMs >= SHORT_LIVED_RESET_MS) return 0;
  return count;
}

/** The wait before the next login, or null when the last session was not short-lived (then `random` is not called). */
export function waitBeforeLogin(count: number, random: () => number): { delayMs: number; reason: string } | null {
  if (count === 0) return null;
  return {
    delayMs: backoffDelayMs(count, random),
    reason: `the last session lasted under 20 s (${count}× in a row); waiting before logging in again`,
  };
}
