/**
 * A stand-in for the pod's view of one gateway (src/gateway/podGateway.ts), around a real
 * GatewayPacer. The wait limit and queue bound are added here, in the way the pacer's own
 * `acquire(path, { maxWaitMs })` refuses, until that lands: a turn not granted in time is refused
 * with a PacerRefusal-shaped error, and its late slot is released unused.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { AppPortGateway, FreshAnswer, SafeStatus } from '../../../src/appPort/appPortGateway';
import { GatewayPacer } from '../../../src/gateway/gatewayPacer';

export class FakePacerRefusal extends Error {
  constructor(
    readonly why: 'queue_full' | 'too_long',
    readonly retryAfterMs: number,
  ) {
    super(`pacer refused: ${why}`);
    this.name = 'PacerRefusal';
  }
}

export class FakeAppPortGateway implements AppPortGateway {
  readonly verifyTls: boolean;
  status: SafeStatus | null = null;
  tickle: { body: Record<string, unknown>; receivedAt: number } | null = null;
  authStatus: { body: Record<string, unknown>; receivedAt: number } | null = null;
  /** Path (without query) → ms it stays blocked. */
  readonly blocked = new Map<string, number>();
  /** When set, `acquire` answers with this instead of asking the pacer. */
  acquireOverride: ((path: string) => Promise<void>) | null = null;
  readonly acquired: string[] = [];
  readonly granted: string[] = [];
  readonly finishedPaths: string[] = [];
  readonly observed: { path: string; status: number; headers: IncomingHttpHeaders }[] = [];
  readonly pacer = new GatewayPacer();
  private readonly outstanding = new Set<Promise<unknown>>();
  private readonly maxQueue: number;
  private waiting = 0;

  constructor(
    readonly baseUrl: string,
    opts: { verifyTls?: boolean; maxQueue?: number } = {},
  ) {
    this.verifyTls = opts.verifyTls ?? false;
    this.maxQueue = opts.maxQueue ?? 100;
  }

  acquire(path: string, opts: { maxWaitMs: number; priority: 'app' }): Promise<void> {
    this.acquired.push(path);
    if (this.acquireOverride) return this.acquireOverride(path).then(() => void this.granted.push(path));
    if (this.waiting >= this.maxQueue) return Promise.reject(new FakePacerRefusal('queue_full', 1_000));
    this.waiting += 1;
    const turn = this.pacer.acquire(path);
    this.outstanding.add(turn);
    return new Promise<void>((resolve, reject) => {
      let refused = false;
      const timer = setTimeout(() => {
        refused = true;
        reject(new FakePacerRefusal('too_long', opts.maxWaitMs));
      }, opts.maxWaitMs);
      void turn.then(() => {
        this.waiting -= 1;
        this.outstanding.delete(turn);
        clearTimeout(timer);
        if (refused) return this.pacer.finished(path);
        this.granted.push(path);
        resolve();
      });
    });
  }

  finished(path: string): void {
    this.finishedPaths.push(path);
    this.pacer.finished(path);
  }

  blockedForMs(path: string): number {
    return this.blocked.get(path.split('?')[0]) ?? 0;
  }

  observeAnswer(path: string, status: number, headers: IncomingHttpHeaders): void {
    this.observed.push({ path, status, headers });
  }

  freshTickle(maxAgeMs: number): FreshAnswer | null {
    return fresh(this.tickle, maxAgeMs);
  }

  freshAuthStatus(maxAgeMs: number): FreshAnswer | null {
    return fresh(this.authStatus, maxAgeMs);
  }

  safeStatus(): SafeStatus | null {
    return this.status;
  }

  /** Waits for turns still queued in the pacer (refused ones included), so no timer outlives a test. */
  async idle(): Promise<void> {
    while (this.outstanding.size > 0) await Promise.all([...this.outstanding]);
  }
}

function fresh(answer: { body: Record<string, unknown>; receivedAt: number } | null, maxAgeMs: number): FreshAnswer | null {
  if (!answer) return null;
  const ageMs = Date.now() - answer.receivedAt;
  return ageMs <= maxAgeMs ? { body: answer.body, ageMs } : null;
}

export const USABLE: SafeStatus = { connectionId: 'demo-paper', state: 'usable', reason: 'session is usable', nextAttemptAt: null };
