/**
 * Keeps the session alive over the gateway websocket with `tic` while REST is refused (IBKR paces
 * REST requests, not websockets), and reports what the socket says of the session: the greeting's
 * `sts`, each `tic` answer, and pushed losses (`sts` unauthenticated or competing, the socket
 * closing). Everything it hears goes into the pod's SessionKnowledge.
 */
import { GatewaySocket } from './gatewaySocket';
import type { SessionKnowledge } from './sessionKnowledge';

export interface WebsocketKeepaliveOptions {
  baseUrl: string;
  verifyTls: boolean;
  /** The tickle's `session` (from SessionKnowledge). */
  session: string;
  knowledge: SessionKnowledge;
  /** How long a `tic` may go unanswered before the socket counts as not working. */
  answerWithinMs?: number;
  /** Called once when the socket reports the session lost (`why` is ibflow's wording). */
  onLost?: (why: WebsocketLoss) => void;
}

export type WebsocketLoss = 'not_authenticated' | 'competing' | 'socket_closed';

export class WebsocketKeepalive {
  private socket: GatewaySocket | null = null;
  private opening: Promise<void> | null = null;
  private waiting: { resolve: (alive: boolean) => void; reject: (err: Error) => void; timer: NodeJS.Timeout } | null = null;
  /** Set once the socket reported the session gone. */
  lost: WebsocketLoss | null = null;
  private closedByUs = false;

  constructor(private readonly opts: WebsocketKeepaliveOptions) {}

  /**
   * Sends `tic` and resolves true when the gateway answers it for a live session, false when the
   * session is gone; rejects when the socket cannot be opened or the answer does not come in time.
   */
  async tic(): Promise<boolean> {
    if (this.lost !== null) return false;
    await this.open();
    if (this.lost !== null) return false;
    const answered = new Promise<boolean>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new Error(`websocket: no answer to tic within ${this.opts.answerWithinMs ?? 10_000} ms`));
      }, this.opts.answerWithinMs ?? 10_000);
      this.waiting = { resolve, reject, timer };
    });
    this.socket!.send('tic');
    return answered;
  }

  close(): void {
    this.closedByUs = true;
    this.settle(new Error('websocket keepalive closed'));
    this.socket?.close();
    this.socket = null;
  }

  private open(): Promise<void> {
    if (this.socket && !this.opening) return Promise.resolve();
    this.opening ??= (async () => {
      const socket = new GatewaySocket(
        { baseUrl: this.opts.baseUrl, verifyTls: this.opts.verifyTls, session: this.opts.session },
        {
          onMessage: (message) => this.onMessage(message),
          onUndecodable: () => undefined,
          onClose: () => {
            this.socket = null;
            if (!this.closedByUs) this.markLost('socket_closed');
          },
        },
      );
      this.socket = socket;
      try {
        await socket.open();
      } catch (err) {
        this.socket = null;
        throw new Error(`websocket did not open: ${(err as Error).message}`);
      } finally {
        this.opening = null;
      }
    })();
    return this.opening;
  }

  private onMessage(message: Record<string, unknown>): void {
    if (message.topic === 'sts') {
      const args = (message.args ?? {}) as Record<string, unknown>;
      if (args.competing === true) this.markLost('competing');
      else if (args.authenticated === false) this.markLost('not_authenticated');
      else if (args.authenticated === true) this.opts.knowledge.recordWebsocket(true);
      return;
    }
    if (message.topic === 'tic') {
      const alive = message.alive === true;
      this.opts.knowledge.recordWebsocket(alive);
      if (!alive) this.markLost('not_authenticated');
      this.settle(alive);
    }
  }

  private markLost(why: WebsocketLoss): void {
    if (this.lost !== null) return;
    this.lost = why;
    this.opts.knowledge.recordWebsocket(false);
    this.settle(false);
    this.opts.onLost?.(why);
  }

  private settle(outcome: boolean | Error): void {
    const w = this.waiting;
    if (!w) return;
    this.waiting = null;
    clearTimeout(w.timer);
    if (outcome instanceof Error) w.reject(outcome);
    else w.resolve(outcome);
  }
}
