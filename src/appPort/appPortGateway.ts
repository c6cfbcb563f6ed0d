import type { IncomingHttpHeaders } from 'node:http';

export type { SafeSessionState, SafeStatus } from '../contract/safeStatus';
import type { SafeStatus } from '../contract/safeStatus';

/** A cached gateway answer ibflow received itself, and how old it is. */
export interface FreshAnswer {
  body: Record<string, unknown>;
  ageMs: number;
}

/**
 * What the app port needs from the pod's view of one gateway (implemented in
 * src/gateway/podGateway.ts). Everything the port forwards goes through the same pacer and penalty
 * box as ibflow's own requests, so the gateway sees one well-behaved client.
 */
export interface AppPortGateway {
  /** The gateway's base URL, e.g. `https://127.0.0.1:5000`. */
  readonly baseUrl: string;
  readonly verifyTls: boolean;
  /**
   * Waits for a pacing slot for `path` (`/v1/api/...` or `/v1/portal/...`, query allowed). Rejects
   * with `PacerRefusal` (src/gateway/gatewayPacer.ts) when it cannot be served within `maxWaitMs`
   * or the queue is full. Call `finished(path)` once the gateway's answer has arrived (or failed).
   * The port always asks with `priority: 'app'`, so ibflow's own keepalive can go first.
   */
  acquire(path: string, opts: { maxWaitMs: number; priority: 'app' }): Promise<void>;
  finished(path: string): void;
  /** Milliseconds until a REST request to `path` may be sent (a 429 or a penalty box); 0 = go now. */
  blockedForMs(path: string): number;
  /** What the gateway answered to a forwarded request: 429s feed the penalty box, 2xx end it. */
  observeAnswer(path: string, status: number, headers: IncomingHttpHeaders): void;
  /** ibflow's own last `/tickle` answer (the gateway's JSON) when younger than `maxAgeMs`. */
  freshTickle(maxAgeMs: number): FreshAnswer | null;
  /** ibflow's own last `/iserver/auth/status` answer when younger than `maxAgeMs`. */
  freshAuthStatus(maxAgeMs: number): FreshAnswer | null;
  /** The safe status of the session on this gateway as ibflow knows it; null = not known yet. */
  safeStatus(): SafeStatus | null;
}
