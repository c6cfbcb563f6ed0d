/**
 * A stand-in for the pod's view of one gateway (src/gateway/podGateway.ts) around the real
 * GatewayPacer, with knobs for the safe status, ibflow's fresh answers and blocked paths, and a
 * record of what the port asked of it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { AppPortGateway, FreshAnswer, SafeStatus } from '../../../src/appPort/appPortGateway';
import { GatewayPacer } from '../../../src/gateway/gatewayPacer';

export class FakeAppPortGateway implements AppPortGateway {
  readonly verifyTls: boolean;
  status: SafeStatus | null = null;
  tickle: { body: Record<string, unknown>; receivedAt: number } | null = null;
  authStatus: { body: Record<string, unknown>; receivedAt: number } | null = null;
  /** Path (without query) → ms it stays blocked. */
  readonly blocked = new Map<string, number>();
  /** When set, `acquire` answers with this instead of asking the pacer. */
  acquireOverride: ((path: string) => Promise<void>) | null = null;
  readonly acquired: { path: string; opts: { maxWaitMs: number; priority: 'app' } }[] = [];
  readonly granted: string[] = [];
  readonly finishedPaths: string[] = [];
  readonly observed: { path: string; status: number; headers: IncomingHttpHeaders }[] = [];
  readonly pacer = new GatewayPacer();

  constructor(
    readonly baseUrl: string,
    opts: { verifyTls?: boolean } = {},
  ) {
    this.verifyTls = opts.verifyTls ?? false;
  }

  acquire(path: string, opts: { maxWaitMs: number; priority: 'app' }): Promise<void> {
    this.acquired.push({ path, opts });
    const slot = this.acquireOverride ? this.acquireOverride(path) : this.pacer.acquire(path, opts);
    return slot.then(() => void this.granted.push(path));
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
}

function fresh(answer: { body: Record<string, unknown>; receivedAt: number } | null, maxAgeMs: number): FreshAnswer | null {
  if (!answer) return null;
  const ageMs = Date.now() - answer.receivedAt;
  return ageMs <= maxAgeMs ? { body: answer.body, ageMs } : null;
}

export const USABLE: SafeStatus = { connectionId: 'demo-paper', state: 'usable', reason: 'session is usable', nextAttemptAt: null };
