/**
 * The simulator's clock. Every session rule (idle expiry, maximum age, daily reset, maintenance
 * window, random drops, lockouts, pacing windows, smd stream end, login transaction expiry) reads
 * `now()`; tests speed it up (`timeScale`) or jump it forward (`advance`, control plane
 * `POST /sim/control/clock`). Wall-clock things stay on real time: TOTP codes (the phone's clock),
 * websocket heartbeats and the depth frame rate.
 */
export class SimClock {
  private readonly startReal: number;
  private offsetMs = 0;
  private readonly listeners: (() => void)[] = [];

  constructor(
    readonly timeScale = 1,
    private readonly realNow: () => number = Date.now,
  ) {
    if (!(timeScale > 0) || !Number.isFinite(timeScale)) throw new Error('timeScale must be a positive number');
    this.startReal = realNow();
  }

  /** Simulated epoch milliseconds. Starts at the real time and runs `timeScale` times as fast. */
  now(): number {
    const real = this.realNow();
    return Math.floor(this.startReal + (real - this.startReal) * this.timeScale + this.offsetMs);
  }

  /** Jumps the clock forward; rule checks run at once. */
  advance(ms: number): number {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new Error('advanceMs must be a non-negative number');
    this.offsetMs += ms;
    for (const l of this.listeners) l();
    return this.now();
  }

  onAdvance(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Real milliseconds until `simMs` of simulated time have passed (at least 1). */
  realDelay(simMs: number): number {
    return Math.max(1, Math.ceil(simMs / this.timeScale));
  }
}
