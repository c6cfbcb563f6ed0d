/**
 * One gateway as its pod sees it: the REST client ibflow uses, and everything shared with the
 * user's programs through the app port — one pacer, one reading of the gateway's 429s (the
 * penalty box), ibflow's fresh knowledge of the session, and the session's safe status. The
 * gateway then sees one well-behaved client, however many programs run on the pod.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { AppPortGateway, FreshAnswer } from '../appPort/appPortGateway';
import { safeStatusOf, type SafeStatus } from '../contract/safeStatus';
import type { SessionStatus } from '../contract/sessionStatus';
import { recordPenalty, recordRefusal } from '../metrics/pacingMetrics';
import { recordReach } from '../metrics/reachMetrics';
import { GatewayClient } from './gatewayClient';
import { GatewayPacer } from './gatewayPacer';
import { PenaltyBox, retryAfterMs } from './penaltyBox';
import { SessionKnowledge } from './sessionKnowledge';

export interface PodGatewayOptions {
  pod: string;
  baseUrl: string;
  verifyTls: boolean;
  /** The session status of the connection on this gateway (the pod worker asks its workflow). */
  sessionStatus?: () => Promise<SessionStatus | null>;
  /** How often the safe status is refreshed. */
  statusEveryMs?: number;
  timeoutMs?: number;
  /** IBKR's penalty box when a 429 carries no Retry-After (config `session.penaltyBoxMs`). */
  penaltyBoxMs?: number;
}

export class PodGateway implements AppPortGateway {
  readonly client: GatewayClient;
  readonly baseUrl: string;
  readonly verifyTls: boolean;
  private status: SafeStatus | null = null;
  private readonly statusTimer: NodeJS.Timeout | null = null;
  private readonly unsubscribe: () => void;
  /** The status read in flight: awaited on close, so no Temporal call outlives the worker's client. */
  private reading: Promise<void> | null = null;

  constructor(private readonly opts: PodGatewayOptions) {
    this.baseUrl = opts.baseUrl;
    this.verifyTls = opts.verifyTls;
    this.client = new GatewayClient({
      baseUrl: opts.baseUrl,
      verifyTls: opts.verifyTls,
      timeoutMs: opts.timeoutMs,
      pacer: new GatewayPacer(),
      penalty: new PenaltyBox({ boxMs: opts.penaltyBoxMs, onRefused: (scope, path) => recordRefusal(opts.pod, scope, path) }),
      knowledge: new SessionKnowledge(),
    });
    const unsubscribePenalty = this.client.penalty.subscribe((p) => recordPenalty(opts.pod, p !== null));
    const unsubscribeReach = this.client.reach.subscribe((reach, sinceMs) => recordReach(opts.pod, reach, sinceMs));
    this.unsubscribe = () => {
      unsubscribePenalty();
      unsubscribeReach();
    };
    recordPenalty(opts.pod, false);
    const read = opts.sessionStatus;
    if (read) {
      const refresh = () => {
        if (this.reading) return;
        this.reading = read()
          .then(
            (s) => void (this.status = s ? safeStatusOf(s) : null),
            () => undefined, // Temporal away for a moment: keep the last known status
          )
          .finally(() => (this.reading = null));
      };
      refresh();
      this.statusTimer = setInterval(refresh, opts.statusEveryMs ?? 3_000);
      this.statusTimer.unref();
    }
  }

  acquire(path: string, opts: { maxWaitMs: number }): Promise<void> {
    return this.client.pacer.acquire(path, { maxWaitMs: opts.maxWaitMs, priority: 'app' });
  }

  finished(path: string): void {
    this.client.pacer.finished(path);
  }

  blockedForMs(path: string): number {
    return this.client.penalty.blockedForMs(path);
  }

  observeAnswer(path: string, status: number, headers: IncomingHttpHeaders): void {
    if (status !== 429) {
      this.client.penalty.answered(path);
      return;
    }
    this.client.penalty.refused(path, retryAfterMs(headers));
  }

  freshTickle(maxAgeMs: number): FreshAnswer | null {
    return this.client.knowledge.freshTickle(maxAgeMs);
  }

  freshAuthStatus(maxAgeMs: number): FreshAnswer | null {
    return this.client.knowledge.freshAuthStatus(maxAgeMs);
  }

  safeStatus(): SafeStatus | null {
    return this.status;
  }

  async close(): Promise<void> {
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.unsubscribe();
    this.client.close();
    await this.reading;
  }
}
