/**
 * Keeps one gateway's requests under IBKR's published pacing (10 req/s global, /tickle 1/s,
 * /sso/validate 1/min, /portfolio/accounts 1 per 5 s, snapshots 10/s): a 429 costs a 15-minute
 * penalty box, so every caller in the pod worker waits its turn here instead. Margins are
 * deliberate — the gateway's own counting window is unknown.
 */
export interface PacingRule {
  /** Path suffix after /v1/api or /v1/portal, e.g. `/tickle`. */
  path: string;
  minIntervalMs: number;
}

export const DEFAULT_PACING: { globalPerSecond: number; rules: PacingRule[] } = {
  globalPerSecond: 8,
  rules: [
    // Counted from the previous answer (see `finished`), plus margin for the gateway's unknown window.
    { path: '/tickle', minIntervalMs: 2_000 },
    { path: '/sso/validate', minIntervalMs: 61_000 },
    { path: '/portfolio/accounts', minIntervalMs: 5_500 },
    { path: '/iserver/account/orders', minIntervalMs: 5_500 },
    { path: '/iserver/marketdata/snapshot', minIntervalMs: 110 },
  ],
};

/** Longer than the gateway client's request timeout (10 s): by then the request has failed. */
const IN_FLIGHT_LIMIT_MS = 15_000;
const IN_FLIGHT_POLL_MS = 50;

export class GatewayPacer {
  /** Start times of the requests of the last second (global window). */
  private recent: number[] = [];
  private readonly lastByRule = new Map<string, number>();
  /** When the unanswered request of each rule's path was sent. */
  private readonly inFlightSince = new Map<string, number>();
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly pacing = DEFAULT_PACING,
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  /** Resolves when a request to `path` may be sent; callers are served in order. */
  acquire(path: string): Promise<void> {
    const turn = this.queue.then(() => this.waitFor(path));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /**
   * Marks the answer to a request on `path` as received. Per-path intervals then count from here,
   * not from when the request was sent: a request that sat in a socket queue on a loaded host can
   * reach the gateway late, and the next one must still arrive a full interval after it.
   */
  finished(path: string): void {
    const rule = this.ruleFor(path);
    if (!rule) return;
    this.inFlightSince.delete(rule.path);
    this.lastByRule.set(rule.path, Math.max(this.lastByRule.get(rule.path) ?? 0, this.now()));
  }

  private ruleFor(path: string): PacingRule | undefined {
    const clean = path.replace(/^\/v1\/(api|portal)/, '').split('?')[0];
    return this.pacing.rules.find((r) => clean === r.path);
  }

  private async waitFor(path: string): Promise<void> {
    const rule = this.ruleFor(path);
    for (;;) {
      const t = this.now();
      this.recent = this.recent.filter((s) => t - s < 1_000);
      let wait = 0;
      if (this.recent.length >= this.pacing.globalPerSecond) wait = 1_000 - (t - this.recent[0]);
      if (rule) {
        const last = this.lastByRule.get(rule.path);
        if (last !== undefined) wait = Math.max(wait, rule.minIntervalMs - (t - last));
        // A slow answer (two callers tickling at once, a gateway under load) holds the next request
        // of that path until it arrives; a request never answered stops counting after a while.
        const sentAt = this.inFlightSince.get(rule.path);
        if (sentAt !== undefined && t - sentAt < IN_FLIGHT_LIMIT_MS) wait = Math.max(wait, Math.min(IN_FLIGHT_POLL_MS, IN_FLIGHT_LIMIT_MS - (t - sentAt)));
      }
      if (wait <= 0) {
        this.recent.push(t);
        if (rule) {
          this.lastByRule.set(rule.path, t);
          this.inFlightSince.set(rule.path, t);
        }
        return;
      }
      await this.sleep(wait);
    }
  }
}
