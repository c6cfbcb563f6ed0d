/**
 * The simulated pod's link to IBKR: whether the gateway can reach IBKR at all, and IBKR's clock
 * as seen from the pod. While the link is cut, the gateway still accepts connections but nothing
 * it passes on comes back (held requests are counted here); its own local answers are unaffected.
 */

export interface IbkrLinkView {
  reachable: boolean;
  /** When the current cut began (ISO); null while reachable. */
  since: string | null;
  /** When the current cut ends by itself (ISO); null without `forMs` or while reachable. */
  until: string | null;
  /** Passed-on requests (and websocket upgrades) held without an answer whose client is still connected. */
  hungRequests: number;
  /** IBKR's clock minus the pod's, ms. */
  clockOffsetMs: number;
}

export interface IbkrLinkChange {
  reachable?: boolean;
  /** With `reachable: false`: becomes reachable again by itself after this many ms (real time). */
  forMs?: number;
  clockOffsetMs?: number;
}

export class IbkrLink {
  private cutSince: number | null = null;
  private cutUntil: number | null = null;
  private restoreTimer: NodeJS.Timeout | undefined;
  private held = 0;
  private readonly listeners: ((reachable: boolean) => void)[] = [];
  clockOffsetMs: number;

  constructor(
    opts: { reachable: boolean; clockOffsetMs: number },
    private readonly log: (msg: string, fields?: Record<string, unknown>) => void,
  ) {
    this.clockOffsetMs = opts.clockOffsetMs;
    if (!opts.reachable) {
      this.cutSince = Date.now();
      log('ibkr unreachable', { atStart: true });
    }
  }

  get reachable(): boolean {
    return this.cutSince === null;
  }

  /**
   * IBKR's wall clock in ms: what its Date headers and websocket timestamps carry. Read with
   * `new Date()` rather than `Date.now()`, like Node's own Date header, so a test that moves the
   * pod's clock by mocking `Date.now` does not move IBKR's with it.
   */
  now(): number {
    return new Date().getTime() + this.clockOffsetMs;
  }

  /** Called with the new state whenever reachability changes. */
  onChange(listener: (reachable: boolean) => void): void {
    this.listeners.push(listener);
  }

  apply(change: IbkrLinkChange): IbkrLinkView {
    if (change.clockOffsetMs !== undefined && change.clockOffsetMs !== this.clockOffsetMs) {
      this.clockOffsetMs = change.clockOffsetMs;
      this.log('ibkr clock offset changed', { clockOffsetMs: change.clockOffsetMs });
    }
    if (change.reachable === true) this.restore('control plane');
    if (change.reachable === false) this.cut(change.forMs);
    return this.view();
  }

  private cut(forMs: number | undefined): void {
    clearTimeout(this.restoreTimer);
    this.restoreTimer = undefined;
    const wasReachable = this.reachable;
    this.cutSince ??= Date.now();
    this.cutUntil = forMs === undefined ? null : Date.now() + forMs;
    // Real time, so a test or soak that dies mid-fault does not leave the pod cut off.
    if (forMs !== undefined) this.restoreTimer = setTimeout(() => this.restore('forMs elapsed'), forMs);
    this.log('ibkr unreachable', { ...(forMs !== undefined ? { forMs } : {}), ...(wasReachable ? {} : { extended: true }) });
    if (wasReachable) this.emit(false);
  }

  private restore(why: string): void {
    clearTimeout(this.restoreTimer);
    this.restoreTimer = undefined;
    if (this.cutSince === null) return;
    const cutMs = Date.now() - this.cutSince;
    this.cutSince = null;
    this.cutUntil = null;
    this.log('ibkr reachable again', { why, cutMs, hungRequests: this.held });
    this.emit(true);
  }

  private emit(reachable: boolean): void {
    for (const l of this.listeners) l(reachable);
  }

  /** Counts one held request until `release` is called (its client closed the connection). */
  hold(): () => void {
    this.held += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held -= 1;
    };
  }

  view(): IbkrLinkView {
    return {
      reachable: this.reachable,
      since: this.cutSince === null ? null : new Date(this.cutSince).toISOString(),
      until: this.cutUntil === null ? null : new Date(this.cutUntil).toISOString(),
      hungRequests: this.held,
      clockOffsetMs: this.clockOffsetMs,
    };
  }

  close(): void {
    clearTimeout(this.restoreTimer);
  }
}
