/**
 * Never fight a human's login. After a login elsewhere takes the session, the policy decides:
 * `reclaim` waits a cool-down and takes it back, unless logins elsewhere keep taking it (a person is
 * using the username: the flip-flop guard), and `wait-for-human` never takes it back by itself.
 * Pure: the workflow passes the time and gates the human branch by its patch.
 */
import type { CompetingPolicy } from '../src/contract/sessionStatus';

/** Logins elsewhere that take the session this often mean a person is using it: stop reclaiming. */
export const MAX_COMPETING_LOSSES = 3;
export const COMPETING_WINDOW_MS = 60 * 60 * 1000;

export interface CompetingLoss {
  /** Earlier losses (carried across continueAsNew); absent in older runs. */
  lossesAtMs: readonly number[] | undefined;
  nowMs: number;
  policy: CompetingPolicy | undefined;
  cooldownMs: number;
  /** Why the session was lost, in ibflow's words. */
  why: string;
}

export interface CompetingDecision {
  /** The losses within the window, this one included: what the workflow remembers. */
  lossesAtMs: number[];
  /** Wait for a human instead of reclaiming (by policy, or because the session keeps being taken). */
  waitForHuman: boolean;
  humanReason: string;
  reclaimReason: string;
  reclaimAtMs: number;
}

export function decideOnCompetingLoss(loss: CompetingLoss): CompetingDecision {
  const lossesAtMs = [...(loss.lossesAtMs ?? []).filter((t) => loss.nowMs - t < COMPETING_WINDOW_MS), loss.nowMs];
  const flipFlopping = lossesAtMs.length >= MAX_COMPETING_LOSSES;
  const because = flipFlopping
    ? `taken ${lossesAtMs.length}× within an hour — someone is using this username, so ibflow does not fight for it`
    : 'competingPolicy is wait-for-human';
  return {
    lossesAtMs,
    waitForHuman: loss.policy === 'wait-for-human' || flipFlopping,
    humanReason: `${loss.why}; ${because}: send forceRelogin (ibflow session relogin) to take the session back`,
    reclaimReason: `${loss.why}; reclaiming in ${Math.round(loss.cooldownMs / 1000)} s unless told otherwise`,
    reclaimAtMs: loss.nowMs + loss.cooldownMs,
  };
}

/** The reason of the `competing` check that follows a gateway check saying so. */
export const COMPETING_CHECK_WHY = 'a human or another program logged in elsewhere';
