/**
 * What the gateway's 429s mean for everyone on this pod, told apart from a lost session.
 *
 * IBKR paces per client address, and every program on the pod shares that address. Public logs of
 * real gateways suggest one over-limit request is refused on its own while sustained abuse puts
 * the address in a penalty box (IBKR-CPAPI.md "Pacing"), so:
 * - a single 429 holds back only its path, for its `Retry-After` or a short pause;
 * - a second 429 soon after (any path) means the address is boxed: no REST request is sent until
 *   the box should be over (its `Retry-After`, else IBKR's documented 15 minutes), then one probe;
 * - any answer that is not a 429 ends it.
 * The websocket is not paced, so the session is kept alive and depth keeps streaming meanwhile.
 * Pure state on an injected clock; the gateway client and the app port feed it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { PacingPenalty } from '../contract/sessionStatus';

export interface PenaltyBoxOptions {
  /** How long one refused path is held back when the 429 names no Retry-After. */
  pathBackoffMs?: number;
  /** A second 429 within this long of the first means the address is boxed. */
  escalateWithinMs?: number;
  /** IBKR's documented penalty box, used when no Retry-After says otherwise. */
  boxMs?: number;
  /** After the box should have ended, a probe refused again waits this long before the next one. */
  reprobeMs?: number;
  now?: () => number;
  /** Told of every 429 and how it was read (metrics). */
  onRefused?: (scope: 'path' | 'box', path: string) => void;
}

export const PENALTY_DEFAULTS = { pathBackoffMs: 2_000, escalateWithinMs: 30_000, boxMs: 15 * 60_000, reprobeMs: 60_000 } as const;

/** Said in the status, event and doctor: ibflow's own pacer keeps its requests within IBKR's table. */
export const CO_TENANT_CAUSE = "another client on this gateway exceeded IBKR's pacing; ibflow's own requests stayed within the published limits";

export type PenaltyListener = (penalty: PacingPenalty | null) => void;

export class PenaltyBox {
  private readonly opts: Required<Omit<PenaltyBoxOptions, 'now' | 'onRefused'>>;
  private readonly now: () => number;
  private readonly onRefused: PenaltyBoxOptions['onRefused'];
  /** Path → when it may be sent again. */
  private readonly heldUntil = new Map<string, number>();
  private lastRefusalAt: number | null = null;
  private boxed: (PacingPenalty & { untilMs: number }) | null = null;
  private readonly listeners = new Set<PenaltyListener>();

  constructor(opts: PenaltyBoxOptions = {}) {
    this.opts = {
      pathBackoffMs: opts.pathBackoffMs ?? PENALTY_DEFAULTS.pathBackoffMs,
      escalateWithinMs: opts.escalateWithinMs ?? PENALTY_DEFAULTS.escalateWithinMs,
      boxMs: opts.boxMs ?? PENALTY_DEFAULTS.boxMs,
      reprobeMs: opts.reprobeMs ?? PENALTY_DEFAULTS.reprobeMs,
    };
    this.now = opts.now ?? Date.now;
    this.onRefused = opts.onRefused;
  }

  /** The gateway answered 429 to `path` (after ibflow's pacer let it through): how it was read, and how long `path` is now held back. */
  refused(path: string, retryAfterMs?: number): { scope: 'path' | 'box'; waitMs: number } {
    const now = this.now();
    const key = pathKey(path);
    const escalate = this.boxed !== null || (this.lastRefusalAt !== null && now - this.lastRefusalAt <= this.opts.escalateWithinMs);
    this.lastRefusalAt = now;
    this.onRefused?.(escalate ? 'box' : 'path', key);
    if (!escalate) {
      const waitMs = retryAfterMs ?? this.opts.pathBackoffMs;
      this.heldUntil.set(key, now + waitMs);
      return { scope: 'path', waitMs };
    }
    const wait = retryAfterMs ?? (this.boxed ? this.opts.reprobeMs : this.opts.boxMs);
    const since = this.boxed?.since ?? new Date(now).toISOString();
    this.boxed = { since, until: new Date(now + wait).toISOString(), untilMs: now + wait, cause: CO_TENANT_CAUSE, path: key };
    this.emit();
    return { scope: 'box', waitMs: wait };
  }

  /** The gateway answered `path` with anything but a 429: requests are served again. */
  answered(path: string): void {
    this.heldUntil.delete(pathKey(path));
    this.lastRefusalAt = null;
    if (this.boxed === null) return;
    this.boxed = null;
    this.emit();
  }

  /** Milliseconds until a REST request to `path` may be sent; 0 = now. */
  blockedForMs(path: string): number {
    const now = this.now();
    const box = this.boxed ? this.boxed.untilMs - now : 0;
    const held = (this.heldUntil.get(pathKey(path)) ?? 0) - now;
    return Math.max(0, box, held);
  }

  /** The address's penalty box, while ibflow believes it is in one (also after its expected end, until a probe passes). */
  get penalty(): PacingPenalty | null {
    if (!this.boxed) return null;
    const { since, until, cause, path } = this.boxed;
    return { since, until, cause, path };
  }

  /** Called with the penalty when a box starts or is extended, and with null when it ends. */
  subscribe(listener: PenaltyListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    const p = this.penalty;
    for (const l of this.listeners) l(p);
  }
}

/** A 429's `Retry-After` in milliseconds (whole seconds only); undefined when absent or unusable. */
export function retryAfterMs(headers: IncomingHttpHeaders): number | undefined {
  const seconds = Number(headers['retry-after']);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

/** `/v1/api/tickle?x` and `/v1/portal/tickle` are one path to IBKR's pacing. */
export function pathKey(path: string): string {
  return path.replace(/^\/v1\/(api|portal)/, '').split('?')[0];
}
