/** Observation counters served by GET /sim/control/stats (tests audit stored depth against them). */

export interface SubscriptionStats {
  topic: string;
  account: string;
  conid: number;
  /** depth frames written to the socket (counted in the ws write callback) */
  frames: number;
  /** `_simSeq` of the first and last frame written; null before the first */
  firstSeq: number | null;
  lastSeq: number | null;
  sizeSum: number;
  /** false once unsubscribed, or its socket or session went away */
  active: boolean;
}

export interface LoginStats {
  ok: number;
  failed: number;
  /** attempts refused because the user was locked */
  locked: number;
  /** locks started by too many failures */
  lockouts: number;
}

export interface SimStatsSnapshot {
  depth: Record<string, { frames: number; sizeSum: number }>;
  subscriptions: Record<string, SubscriptionStats>;
  logins: Record<string, LoginStats>;
  /** `rejected`: requests answered 429 by pacing; `boxes`: penalty boxes started. */
  pacing: { rejected: number; boxes: number };
}

/** Failed logins for usernames not in the users list share one bucket, so a mistyped secret never becomes a key. */
export const UNKNOWN_USER_BUCKET = '(unknown)';

export class SimStats {
  private readonly depth = new Map<string, { frames: number; sizeSum: number }>();
  private readonly subs = new Map<string, SubscriptionStats>();
  private readonly logins = new Map<string, LoginStats>();
  pacingRejected = (): number => 0;
  pacingBoxes = (): number => 0;

  subscriptionStarted(id: string, topic: string, account: string, conid: number): void {
    this.subs.set(id, { topic, account, conid, frames: 0, firstSeq: null, lastSeq: null, sizeSum: 0, active: true });
  }

  subscriptionEnded(id: string): void {
    const s = this.subs.get(id);
    if (s) s.active = false;
  }

  /** Called once depth frames `firstSeq..lastSeq` of a subscription have been written to its socket. */
  depthFramesSent(subId: string, topic: string, firstSeq: number, lastSeq: number, sizeSum: number): void {
    const frames = lastSeq - firstSeq + 1;
    const entry = this.depth.get(topic) ?? { frames: 0, sizeSum: 0 };
    entry.frames += frames;
    entry.sizeSum += sizeSum;
    this.depth.set(topic, entry);
    const s = this.subs.get(subId);
    if (s) {
      s.frames += frames;
      s.sizeSum += sizeSum;
      if (s.firstSeq === null || firstSeq < s.firstSeq) s.firstSeq = firstSeq;
      if (s.lastSeq === null || lastSeq > s.lastSeq) s.lastSeq = lastSeq;
    }
  }

  private loginEntry(bucket: string): LoginStats {
    let e = this.logins.get(bucket);
    if (!e) {
      e = { ok: 0, failed: 0, locked: 0, lockouts: 0 };
      this.logins.set(bucket, e);
    }
    return e;
  }

  login(bucket: string, ok: boolean): void {
    const e = this.loginEntry(bucket);
    if (ok) e.ok += 1;
    else e.failed += 1;
  }

  lockedAttempt(username: string): void {
    this.loginEntry(username).locked += 1;
  }

  lockout(username: string): void {
    this.loginEntry(username).lockouts += 1;
  }

  snapshot(): SimStatsSnapshot {
    return {
      depth: Object.fromEntries([...this.depth].map(([k, v]) => [k, { ...v }])),
      subscriptions: Object.fromEntries([...this.subs].map(([k, v]) => [k, { ...v }])),
      logins: Object.fromEntries([...this.logins].map(([k, v]) => [k, { ...v }])),
      pacing: { rejected: this.pacingRejected(), boxes: this.pacingBoxes() },
    };
  }
}
