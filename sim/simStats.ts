/** Observation counters served by GET /sim/control/stats (tests audit stored depth against them). */
export interface SimStatsSnapshot {
  depth: Record<string, { frames: number; sizeSum: number }>;
  logins: Record<string, { ok: number; failed: number }>;
}

/** Failed logins for usernames not in the users list share one bucket, so a mistyped secret never becomes a key. */
export const UNKNOWN_USER_BUCKET = '(unknown)';

export class SimStats {
  private readonly depth = new Map<string, { frames: number; sizeSum: number }>();
  private readonly logins = new Map<string, { ok: number; failed: number }>();

  /** Called once a depth frame has been written to a socket. */
  depthFrameSent(topic: string, sizeSum: number): void {
    const entry = this.depth.get(topic) ?? { frames: 0, sizeSum: 0 };
    entry.frames += 1;
    entry.sizeSum += sizeSum;
    this.depth.set(topic, entry);
  }

  login(bucket: string, ok: boolean): void {
    const entry = this.logins.get(bucket) ?? { ok: 0, failed: 0 };
    if (ok) entry.ok += 1;
    else entry.failed += 1;
    this.logins.set(bucket, entry);
  }

  snapshot(): SimStatsSnapshot {
    return {
      depth: Object.fromEntries([...this.depth].map(([k, v]) => [k, { ...v }])),
      logins: Object.fromEntries([...this.logins].map(([k, v]) => [k, { ...v }])),
    };
  }
}
