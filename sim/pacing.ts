/**
 * IBKR's request pacing (IBKR-CPAPI.md "Pacing"): a global limit per gateway and per-endpoint
 * limits, counted per client IP, on the sim clock. Over a limit the request answers 429. What
 * follows depends on the mode (docs/simulator.md, "Pacing"):
 * - `lenient` (default): the refused request is refused on its own; the IP goes into the penalty
 *   box only after `boxAfterViolations` refusals within `violationWindowMs` (sustained abuse).
 * - `strict`: the first refused request puts the IP into the penalty box (rehearsing the worst case).
 * In the box every API request of the IP answers 429 until the box time is over.
 */

export type PacingMode = 'lenient' | 'strict';
export type RetryAfterPolicy = 'none' | 'remaining';

export interface PacingOptions {
  /** false turns pacing off (load tests). Default true. */
  enabled?: boolean;
  /** Default 'lenient'. */
  mode?: PacingMode;
  /** Requests per second per client IP over all API paths. Default 10. */
  globalPerSecond?: number;
  /** Penalty box duration. Default 15 min. */
  penaltyMs?: number;
  /** Lenient mode: refused requests within `violationWindowMs` that box the IP. Default 10. */
  boxAfterViolations?: number;
  /** Lenient mode: the window over which refusals are counted. Default 60 s. */
  violationWindowMs?: number;
  /** A request during the box restarts the box (unknown on IBKR's side). Default false. */
  extendBoxOnRequest?: boolean;
  /** 'remaining' sends `Retry-After` (seconds until the request could pass); default 'none'. */
  retryAfter?: RetryAfterPolicy;
}

/** The settings that can change at runtime (`PUT /sim/control/pacing`). */
export type PacingSettings = Required<Omit<PacingOptions, 'enabled'>> & { enabled: boolean };

export const PACING_DEFAULTS: PacingSettings = {
  enabled: true,
  mode: 'lenient',
  globalPerSecond: 10,
  penaltyMs: 15 * 60_000,
  boxAfterViolations: 10,
  violationWindowMs: 60_000,
  extendBoxOnRequest: false,
  retryAfter: 'none',
};

/** Per-endpoint limits: API path (after `/v1/api/` or `/v1/portal/`) → at most `max` requests per `windowMs`. */
export const ENDPOINT_LIMITS: Record<string, { max: number; windowMs: number }> = {
  tickle: { max: 1, windowMs: 1000 },
  'sso/validate': { max: 1, windowMs: 60_000 },
  'portfolio/accounts': { max: 1, windowMs: 5000 },
  'iserver/account/orders': { max: 1, windowMs: 5000 },
  'iserver/marketdata/snapshot': { max: 10, windowMs: 1000 },
};

export type PacingReason = 'global' | 'endpoint' | 'penalty';
/** `retryAfterMs`: when the same request could pass (end of the window slot, or of the box). `boxed`: this refusal started a box. */
export type PacingVerdict = { ok: true } | { ok: false; reason: PacingReason; retryAfterMs: number; boxed: boolean };

export class Pacer {
  private settings: PacingSettings;
  /** ip → timestamps (sim ms) of admitted requests in the last second */
  private readonly global = new Map<string, number[]>();
  /** `ip path` → timestamps of admitted requests within that endpoint's window */
  private readonly endpoint = new Map<string, number[]>();
  /** ip → timestamps of refused over-limit requests (lenient mode's evidence of sustained abuse) */
  private readonly violations = new Map<string, number[]>();
  private readonly penalty = new Map<string, number>();
  rejected = 0;
  /** Penalty boxes started since the start. */
  boxes = 0;

  constructor(opts: PacingOptions, private readonly now: () => number) {
    this.settings = { ...PACING_DEFAULTS, ...dropUndefined(opts) };
  }

  get current(): Readonly<PacingSettings> {
    return this.settings;
  }

  get penaltyMs(): number {
    return this.settings.penaltyMs;
  }

  /** Changes settings at runtime; counters, windows and boxes are kept. */
  configure(changes: Partial<PacingSettings>): Readonly<PacingSettings> {
    this.settings = { ...this.settings, ...dropUndefined(changes) };
    return this.settings;
  }

  /** Counts one API request of `ip` to `apiPath` and says whether it may proceed. */
  check(ip: string, apiPath: string): PacingVerdict {
    const s = this.settings;
    if (!s.enabled) return { ok: true };
    const now = this.now();
    const boxedUntil = this.penalty.get(ip);
    if (boxedUntil !== undefined) {
      if (now < boxedUntil) {
        if (s.extendBoxOnRequest) {
          this.penalty.set(ip, now + s.penaltyMs);
          return this.reject('penalty', s.penaltyMs, false);
        }
        return this.reject('penalty', boxedUntil - now, false);
      }
      this.penalty.delete(ip);
    }
    // Both limits are looked at before either is charged: a refused request consumes no budget.
    const globalStamps = fresh(this.global, ip, now, 1000);
    if (globalStamps.length >= s.globalPerSecond) return this.overLimit(ip, now, 'global', globalStamps[0]! + 1000 - now);
    const limit = ENDPOINT_LIMITS[apiPath];
    const endpointKey = `${ip} ${apiPath}`;
    const endpointStamps = limit ? fresh(this.endpoint, endpointKey, now, limit.windowMs) : undefined;
    if (limit && endpointStamps!.length >= limit.max) return this.overLimit(ip, now, 'endpoint', endpointStamps![0]! + limit.windowMs - now);
    globalStamps.push(now);
    endpointStamps?.push(now);
    return { ok: true };
  }

  private overLimit(ip: string, now: number, reason: 'global' | 'endpoint', slotFreeInMs: number): PacingVerdict {
    const s = this.settings;
    if (s.mode === 'strict') return this.box(ip, now, reason);
    const refused = fresh(this.violations, ip, now, s.violationWindowMs);
    refused.push(now);
    if (refused.length >= s.boxAfterViolations) return this.box(ip, now, reason);
    return this.reject(reason, Math.max(1, slotFreeInMs), false);
  }

  private box(ip: string, now: number, reason: 'global' | 'endpoint'): PacingVerdict {
    this.penalty.set(ip, now + this.settings.penaltyMs);
    this.violations.delete(ip);
    this.boxes += 1;
    return this.reject(reason, this.settings.penaltyMs, true);
  }

  private reject(reason: PacingReason, retryAfterMs: number, boxed: boolean): PacingVerdict {
    this.rejected += 1;
    return { ok: false, reason, retryAfterMs, boxed };
  }

  /** The `Retry-After` header for a refusal under the current policy (whole seconds, at least 1), or none. */
  retryAfterHeader(verdict: PacingVerdict): Record<string, string> {
    if (verdict.ok || this.settings.retryAfter === 'none') return {};
    return { 'Retry-After': String(Math.max(1, Math.ceil(verdict.retryAfterMs / 1000))) };
  }

  boxedIps(): Record<string, number> {
    const now = this.now();
    return Object.fromEntries([...this.penalty].filter(([, until]) => until > now).map(([ip, until]) => [ip, until - now]));
  }

  /** ip → refused requests within the current violation window (lenient mode's count towards a box). */
  violationCounts(): Record<string, number> {
    const now = this.now();
    const out: Record<string, number> = {};
    for (const ip of [...this.violations.keys()]) {
      const n = fresh(this.violations, ip, now, this.settings.violationWindowMs).length;
      if (n > 0) out[ip] = n;
    }
    return out;
  }

  clearPenalties(): void {
    this.penalty.clear();
    this.global.clear();
    this.endpoint.clear();
    this.violations.clear();
  }
}

/** The stamps of `key` still inside the sliding window (older ones dropped, the array kept in the map). */
function fresh(map: Map<string, number[]>, key: string, now: number, windowMs: number): number[] {
  let stamps = map.get(key);
  if (!stamps) {
    stamps = [];
    map.set(key, stamps);
  }
  while (stamps.length > 0 && now - stamps[0]! >= windowMs) stamps.shift();
  return stamps;
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
