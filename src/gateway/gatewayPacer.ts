/**
 * One pacing budget per gateway address. IBKR paces the Web API per client address (10 req/s
 * global, /tickle 1/s, /sso/validate 1/min, /portfolio/accounts 1 per 5 s, snapshots 10/s) and a
 * 429 can cost a penalty box, and on a pod everything — ibflow's own calls and the user's apps
 * through the app port — reaches the gateway from localhost. So every request of a pod asks this
 * one pacer for a start slot, and the gateway sees one well-behaved client.
 *
 * The model:
 * - Each normalised path has its own queue; a path with a rule may start again only an
 *   interval after its previous answer (`finished`), and not while a request of it is unanswered
 *   (for at most IN_FLIGHT_LIMIT_MS). A queue waiting for its interval never delays other paths.
 * - Over all paths at most `globalPerSecond` requests count in any sliding second, each from its
 *   start until a second after its answer: the gateway counts arrivals, which fall in between, so
 *   a late arrival (a new TLS connection, a busy proxy) cannot crowd a window. When several
 *   paths are ready, ibflow's own requests go before apps' (so the keepalive never starves behind
 *   an app flood), then arrival order. Within a path, ibflow's requests are also queued ahead of
 *   apps' for the same reason; among equals, arrival order.
 * - Apps say how long they may wait (`maxWaitMs`) and are refused (`PacerRefusal`) at once when
 *   the wait is known to be longer, when the deadline passes, or when the queue is full; the app
 *   port turns that into a local 429 so the gateway never sees an over-limit request. ibflow's own
 *   calls usually give no deadline and are never refused for a full queue.
 * Margins in the rules are deliberate — the gateway's own counting window is unknown.
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
const WINDOW_MS = 1_000;
/** setTimeout fires at once beyond this; a far deadline just wakes early and re-plans. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export type PacerPriority = 'ibflow' | 'app';

export interface AcquireOptions {
  /** Default 'ibflow'. */
  priority?: PacerPriority;
  /** Refuse rather than start later than this after the call; absent = wait as long as needed. */
  maxWaitMs?: number;
}

export interface PacerOptions {
  /** Waiting requests beyond which app requests are refused (`queue_full`). Default 64. */
  maxQueued?: number;
}

export interface PacerStats {
  waiting: number;
  /** Waiting requests per normalised path (`/tickle`, `/iserver/auth/status`, ...). */
  waitingByPath: Record<string, number>;
}

/** A request the pacer will not start in time; `retryAfterMs` estimates when a retry could pass. */
export class PacerRefusal extends Error {
  constructor(
    readonly path: string,
    readonly why: 'queue_full' | 'too_long',
    readonly retryAfterMs: number,
    detail: string,
  ) {
    super(`pacer refused ${path}: ${why} (${detail}; retry in about ${retryAfterMs} ms)`);
    this.name = 'PacerRefusal';
  }
}

/**
 * Resolves after `ms`, or at once when `signal` aborts. The pacer aborts a wake-up it no longer
 * needs, so a pending timer exists only while some caller is actually waiting: nothing keeps the
 * process alive after the queue empties, yet a short-lived command awaiting its slot is not cut
 * off (an unref'd timer would let Node exit under it, the agent's idle sockets being unref'd too).
 */
export type PacerSleep = (ms: number, signal?: AbortSignal) => Promise<void>;

const timerSleep: PacerSleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });

/**
 * A started request in the global window. It counts until a second after its answer, not after its
 * start: it reaches the gateway somewhere between the two (a new TLS connection, a busy proxy or a
 * loaded host can delay it by hundreds of ms), and the gateway counts arrivals.
 */
interface GlobalSlot {
  key: string;
  start: number;
  answeredAt: number | undefined;
}

function slotEnd(s: GlobalSlot): number {
  // Never answered (the caller forgot, or it hung): it stops counting after the in-flight limit.
  return (s.answeredAt ?? s.start + IN_FLIGHT_LIMIT_MS) + WINDOW_MS;
}

/** The earliest time at or after `t` when fewer than `limit` of the slots ending at `ends` are live. */
function nthFree(ends: number[], t: number, limit: number): number {
  if (ends.length < limit) return t;
  const sorted = [...ends].sort((a, b) => a - b);
  return Math.max(t, sorted[sorted.length - limit]);
}

interface Waiter {
  key: string;
  rule: PacingRule | undefined;
  /** 0 = ibflow, 1 = app: lower goes first. */
  rank: 0 | 1;
  seq: number;
  deadline: number | undefined;
  maxWaitMs: number | undefined;
  resolve: () => void;
  reject: (err: PacerRefusal) => void;
}

export class GatewayPacer {
  /** Requests that still count in the global window, oldest start first. */
  private slots: GlobalSlot[] = [];
  private readonly lastByRule = new Map<string, number>();
  /** When the unanswered request of each rule's path was sent. */
  private readonly inFlightSince = new Map<string, number>();
  /** Waiters per normalised path, ordered by (rank, seq). */
  private readonly queues = new Map<string, Waiter[]>();
  private waitingCount = 0;
  private seq = 0;
  private wake: { at: number; abort: AbortController } | null = null;
  private readonly maxQueued: number;

  constructor(
    private readonly pacing = DEFAULT_PACING,
    private readonly now: () => number = Date.now,
    private readonly sleep: PacerSleep = timerSleep,
    options: PacerOptions = {},
  ) {
    this.maxQueued = options.maxQueued ?? 64;
  }

  /**
   * Resolves when a request to `path` may be sent. Rejects with `PacerRefusal` when `maxWaitMs`
   * cannot be met or (app requests only) the queue is full.
   */
  acquire(path: string, opts: AcquireOptions = {}): Promise<void> {
    const key = cleanPath(path);
    const rule = this.pacing.rules.find((r) => r.path === key);
    const rank = opts.priority === 'app' ? 1 : 0;
    const maxWaitMs = opts.maxWaitMs === undefined || !Number.isFinite(opts.maxWaitMs) ? undefined : Math.max(0, opts.maxWaitMs);
    const t = this.now();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { key, rule, rank, seq: this.seq++, deadline: maxWaitMs === undefined ? undefined : t + maxWaitMs, maxWaitMs, resolve, reject };
      if (maxWaitMs !== undefined) {
        const earliest = this.earliestPossibleStart(waiter, t);
        if (earliest - t > maxWaitMs) {
          reject(new PacerRefusal(key, 'too_long', this.retryAfter(waiter, t), `cannot start within ${maxWaitMs} ms`));
          return;
        }
      }
      this.enqueue(waiter);
      this.pump();
      // Checked after the pump: a request that starts at once never occupied the queue.
      if (rank === 1 && this.isWaiting(waiter) && this.waitingCount > this.maxQueued) {
        this.remove(waiter);
        reject(new PacerRefusal(key, 'queue_full', this.queueFullRetryAfter(waiter, this.now()), `${this.maxQueued} requests already waiting`));
        this.schedule();
      }
    });
  }

  /**
   * Marks the answer to a request on `path` as received (or its failure); call it once for every
   * request that got a slot, ruled path or not, since it also frees the global slot a second later
   * (a request never marked keeps its slot for IN_FLIGHT_LIMIT_MS). Per-path intervals count from here,
   * not from when the request was sent: a request that sat in a socket queue on a loaded host can
   * reach the gateway late, and the next one must still arrive a full interval after it.
   */
  finished(path: string): void {
    const key = cleanPath(path);
    const t = this.now();
    // Requests of one path are interchangeable here: the oldest unanswered one takes the answer.
    const slot = this.slots.find((s) => s.key === key && s.answeredAt === undefined);
    if (slot) slot.answeredAt = Math.max(slot.start, t);
    const rule = this.pacing.rules.find((r) => r.path === key);
    if (rule) {
      this.inFlightSince.delete(rule.path);
      this.lastByRule.set(rule.path, Math.max(this.lastByRule.get(rule.path) ?? 0, t));
    }
    // The answer may free a waiter now rather than at the in-flight limit.
    this.pump();
  }

  stats(): PacerStats {
    const waitingByPath: Record<string, number> = {};
    for (const [key, queue] of this.queues) waitingByPath[key] = queue.length;
    return { waiting: this.waitingCount, waitingByPath };
  }

  /** Starts every waiter that may start now, refuses expired ones, and arranges the next wake-up. */
  private pump(): void {
    const t = this.now();
    // Past its deadline a waiter is refused even if a slot is free now: the caller said "within".
    this.refuseExpired(t, (deadline) => deadline < t);
    this.slots = this.slots.filter((s) => slotEnd(s) > t);
    while (this.slots.length < this.pacing.globalPerSecond) {
      const next = this.bestReadyHead(t);
      if (!next) break;
      this.remove(next);
      this.slots.push({ key: next.key, start: t, answeredAt: undefined });
      if (next.rule) {
        this.lastByRule.set(next.rule.path, t);
        this.inFlightSince.set(next.rule.path, t);
      }
      next.resolve();
    }
    this.refuseExpired(t, (deadline) => deadline <= t);
    this.schedule();
  }

  /** The first waiter by (rank, seq) among the path heads whose path may send now. */
  private bestReadyHead(t: number): Waiter | undefined {
    let best: Waiter | undefined;
    for (const queue of this.queues.values()) {
      const head = queue[0];
      if (this.pathReadyAt(head, t) > t) continue;
      if (!best || head.rank < best.rank || (head.rank === best.rank && head.seq < best.seq)) best = head;
    }
    return best;
  }

  /** When `w`'s path allows its next start, ignoring the queue: interval and in-flight hold. */
  private pathReadyAt(w: Waiter, t: number): number {
    if (!w.rule) return t;
    const last = this.lastByRule.get(w.rule.path);
    let ready = last === undefined ? t : last + w.rule.minIntervalMs;
    // A slow answer (two callers tickling at once, a gateway under load) holds the next request
    // of that path until it arrives; a request never answered stops counting after a while.
    const sentAt = this.inFlightSince.get(w.rule.path);
    if (sentAt !== undefined && t - sentAt < IN_FLIGHT_LIMIT_MS) ready = Math.max(ready, sentAt + IN_FLIGHT_LIMIT_MS);
    return ready;
  }

  /**
   * When the global window next has room, counting only requests already started. With `lowerBound`,
   * an unanswered request is assumed answered right now (the earliest it could free its slot).
   */
  private globalReadyAt(t: number, lowerBound = false): number {
    const ends = this.slots.map((s) => (lowerBound && s.answeredAt === undefined ? Math.min(t + WINDOW_MS, slotEnd(s)) : slotEnd(s))).filter((e) => e > t);
    return nthFree(ends, t, this.pacing.globalPerSecond);
  }

  /**
   * A lower bound on `w`'s start: its path's interval (an in-flight request could be answered
   * right now), one interval per waiter ahead of it on the path, and the current global window.
   * Only a bound this sure refuses a request at once; the rest is left to its deadline.
   */
  private earliestPossibleStart(w: Waiter, t: number): number {
    let start = this.globalReadyAt(t, true);
    if (w.rule) {
      const interval = w.rule.minIntervalMs;
      const last = this.lastByRule.get(w.rule.path);
      let ready = last === undefined ? t : last + interval;
      const sentAt = this.inFlightSince.get(w.rule.path);
      if (sentAt !== undefined && t - sentAt < IN_FLIGHT_LIMIT_MS) ready = Math.max(ready, Math.min(t + interval, sentAt + IN_FLIGHT_LIMIT_MS));
      const ahead = (this.queues.get(w.key) ?? []).filter((o) => o !== w && goesBefore(o, w)).length;
      start = Math.max(start, ready + ahead * interval);
    }
    return Math.max(t, start);
  }

  /**
   * Milliseconds until a retry of `w` could start: the path bound above, and the global slot it
   * would get if every waiter ahead of it (anywhere) started first. An estimate, always > 0.
   */
  private retryAfter(w: Waiter, t: number): number {
    const ahead = [...this.queues.values()].flat().filter((o) => o !== w && goesBefore(o, w)).length;
    // Requests still to start are assumed answered at once, so this stays an estimate, not a bound.
    const ends = this.slots.map(slotEnd).filter((e) => e > t);
    let slot = t;
    for (let i = 0; i <= ahead; i++) {
      slot = nthFree(ends.filter((e) => e > slot), slot, this.pacing.globalPerSecond);
      ends.push(slot + WINDOW_MS);
    }
    return Math.max(1, Math.ceil(Math.max(slot, this.earliestPossibleStart(w, t)) - t));
  }

  /** A full queue frees when some waiter starts or gives up; the retry must also fit its own path. */
  private queueFullRetryAfter(w: Waiter, t: number): number {
    let frees = Infinity;
    for (const queue of this.queues.values()) {
      for (const o of queue) {
        if (o.deadline !== undefined) frees = Math.min(frees, o.deadline);
      }
      frees = Math.min(frees, Math.max(this.pathReadyAt(queue[0], t), this.globalReadyAt(t)));
    }
    const own = this.earliestPossibleStart(w, t);
    // With nobody else waiting (maxQueued 0) only its own path and the window matter.
    return Math.max(1, Math.ceil((frees === Infinity ? own : Math.max(frees, own)) - t));
  }

  private refuseExpired(t: number, expired: (deadline: number) => boolean): void {
    for (const queue of [...this.queues.values()]) {
      for (const w of [...queue]) {
        if (w.deadline === undefined || !expired(w.deadline)) continue;
        const retryAfterMs = this.retryAfter(w, t);
        this.remove(w);
        w.reject(new PacerRefusal(w.key, 'too_long', retryAfterMs, `not started within ${w.maxWaitMs} ms`));
      }
    }
  }

  /** One wake-up at the earliest time a waiter could start or expire; none when nobody waits. */
  private schedule(): void {
    const t = this.now();
    let at = Infinity;
    const globalAt = this.globalReadyAt(t);
    for (const queue of this.queues.values()) {
      at = Math.min(at, Math.max(this.pathReadyAt(queue[0], t), globalAt));
      for (const w of queue) if (w.deadline !== undefined) at = Math.min(at, w.deadline);
    }
    if (this.wake && this.wake.at <= at && at !== Infinity) return; // an earlier wake-up re-plans when it fires
    this.wake?.abort.abort();
    this.wake = null;
    if (at === Infinity) return;
    const wake = { at, abort: new AbortController() };
    this.wake = wake;
    void this.sleep(Math.min(Math.max(1, at - t), MAX_TIMER_MS), wake.abort.signal).then(() => {
      if (this.wake !== wake) return; // superseded
      this.wake = null;
      this.pump();
    });
  }

  private enqueue(w: Waiter): void {
    const queue = this.queues.get(w.key) ?? [];
    let i = queue.length;
    while (i > 0 && goesBefore(w, queue[i - 1])) i--;
    queue.splice(i, 0, w);
    this.queues.set(w.key, queue);
    this.waitingCount++;
  }

  private remove(w: Waiter): void {
    const queue = this.queues.get(w.key);
    const i = queue ? queue.indexOf(w) : -1;
    if (!queue || i < 0) return;
    queue.splice(i, 1);
    if (queue.length === 0) this.queues.delete(w.key);
    this.waitingCount--;
  }

  private isWaiting(w: Waiter): boolean {
    return this.queues.get(w.key)?.includes(w) ?? false;
  }
}

function goesBefore(a: Waiter, b: Waiter): boolean {
  return a.rank < b.rank || (a.rank === b.rank && a.seq < b.seq);
}

/** `/v1/api/x?y` and `/v1/portal/x` are the same gateway path `/x`. */
function cleanPath(path: string): string {
  return path.replace(/^\/v1\/(api|portal)/, '').split('?')[0];
}
