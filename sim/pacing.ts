/**
 * IBKR's request pacing (IBKR-CPAPI.md "Pacing"): a global limit per gateway and per-endpoint
 * limits, counted per client IP. Going over answers 429 and puts the IP in a penalty box, where
 * every API request answers 429 until the box time is over. All on the sim clock.
 */

export interface PacingOptions {
  /** false turns pacing off (load tests). Default true. */
  enabled?: boolean;
  /** Requests per second per client IP over all API paths. Default 10. */
  globalPerSecond?: number;
  /** Penalty box duration. Default 15 min. */
  penaltyMs?: number;
}

/** Per-endpoint limits: API path (after `/v1/api/` or `/v1/portal/`) → at most `max` requests per `windowMs`. */
export const ENDPOINT_LIMITS: Record<string, { max: number; windowMs: number }> = {
  tickle: { max: 1, windowMs: 1000 },
  'sso/validate': { max: 1, windowMs: 60_000 },
  'portfolio/accounts': { max: 1, windowMs: 5000 },
  'iserver/account/orders': { max: 1, windowMs: 5000 },
  'iserver/marketdata/snapshot': { max: 10, windowMs: 1000 },
};

export type PacingVerdict = { ok: true } | { ok: false; reason: 'global' | 'endpoint' | 'penalty'; retryAfterMs: number };

export class Pacer {
  private readonly enabled: boolean;
  private readonly globalPerSecond: number;
  readonly penaltyMs: number;
  /** ip → timestamps (sim ms) of requests in the last second */
  private readonly global = new Map<string, number[]>();
  /** `ip path` → timestamps within that endpoint's window */
  private readonly endpoint = new Map<string, number[]>();
  private readonly penalty = new Map<string, number>();
  rejected = 0;

  constructor(opts: PacingOptions, private readonly now: () => number) {
    this.enabled = opts.enabled ?? true;
    this.globalPerSecond = opts.globalPerSecond ?? 10;
    this.penaltyMs = opts.penaltyMs ?? 15 * 60_000;
  }

  /** Counts one API request of `ip` to `apiPath` and says whether it may proceed. */
  check(ip: string, apiPath: string): PacingVerdict {
    if (!this.enabled) return { ok: true };
    const now = this.now();
    const boxedUntil = this.penalty.get(ip);
    if (boxedUntil !== undefined) {
      if (now < boxedUntil) return this.reject('penalty', boxedUntil - now);
      this.penalty.delete(ip);
    }
    if (!this.admit(this.global, ip, now, 1000, this.globalPerSecond)) return this.box(ip, now, 'global');
    const limit = ENDPOINT_LIMITS[apiPath];
    if (limit && !this.admit(this.endpoint, `${ip} ${apiPath}`, now, limit.windowMs, limit.max)) return this.box(ip, now, 'endpoint');
    return { ok: true };
  }

  /** Sliding window: drops old stamps, admits when fewer than `max` remain. */
  private admit(map: Map<string, number[]>, key: string, now: number, windowMs: number, max: number): boolean {
    const stamps = map.get(key) ?? [];
    while (stamps.length > 0 && now - stamps[0] >= windowMs) stamps.shift();
    if (stamps.length >= max) {
      map.set(key, stamps);
      return false;
    }
    stamps.push(now);
    map.set(key, stamps);
    return true;
  }

  private box(ip: string, now: number, reason: 'global' | 'endpoint'): PacingVerdict {
    this.penalty.set(ip, now + this.penaltyMs);
    return this.reject(reason, this.penaltyMs);
  }

  private reject(reason: 'global' | 'endpoint' | 'penalty', retryAfterMs: number): PacingVerdict {
    this.rejected += 1;
    return { ok: false, reason, retryAfterMs };
  }

  boxedIps(): Record<string, number> {
    const now = this.now();
    return Object.fromEntries([...this.penalty].filter(([, until]) => until > now).map(([ip, until]) => [ip, until - now]));
  }

  clearPenalties(): void {
    this.penalty.clear();
    this.global.clear();
    this.endpoint.clear();
  }
}
