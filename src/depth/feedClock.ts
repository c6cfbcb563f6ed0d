/** Stops a timer started by a {@link FeedClock}. */
export type CancelTimer = () => void;

/**
 * Time as the depth feed sees it: wall milliseconds and timers. Injected so tests can drive the
 * watchdog, the subscribe fallback and the snapshot cadence without waiting.
 */
export interface FeedClock {
  nowMs(): number;
  every(ms: number, fn: () => void): CancelTimer;
  after(ms: number, fn: () => void): CancelTimer;
}

export const systemClock: FeedClock = {
  nowMs: () => Date.now(),
  every(ms, fn) {
    const t = setInterval(fn, ms);
    return () => clearInterval(t);
  },
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};
