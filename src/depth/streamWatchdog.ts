import type { LadderEpoch } from './ladderEpochs';

/** How often the watchdog looks: a quarter of the stale threshold, between 250 ms and 1 s. */
export function watchdogEveryMs(staleAfterMs: number): number {
  return Math.max(250, Math.min(1000, staleAfterMs / 4));
}

/** Subscribed, not refused, and silent for at least `staleAfterMs`. */
export function isStale(ladder: LadderEpoch, nowMs: number, staleAfterMs: number): boolean {
  return ladder.subscribed && !ladder.refused && nowMs - ladder.lastFrameAtMs >= staleAfterMs;
}

/** Time the socket spent paused for the sink is not silence of the gateway: move it off every ladder's clock. */
export function creditPause(ladders: Iterable<LadderEpoch>, pausedMs: number): void {
  for (const l of ladders) l.lastFrameAtMs += pausedMs;
}
