import { Context } from '@temporalio/activity';
import type { KeepaliveEnded, PacingPenalty } from '../src/contract/sessionStatus';
import { GatewayError } from '../src/gateway/gatewayError';
import { WebsocketKeepalive, type WebsocketLoss } from '../src/gateway/websocketKeepalive';
import { observeTickle } from '../src/metrics/metrics';
import { pacingSignal } from '../workflows/messages';
import { gatewayFailure } from './activityFailure';
import { HEARTBEAT_EVERY_MS } from './heartbeatCadence';
import type { PodDependencies } from './podDependencies';

const TICKLE = '/v1/api/tickle';

const ENDED_BY_WEBSOCKET: Record<WebsocketLoss, KeepaliveEnded['reason']> = {
  competing: 'competing',
  not_authenticated: 'not_authenticated',
  socket_closed: 'not_authenticated',
};

/**
 * Tickles the gateway every `intervalMs` and returns only when the session needs attention, so a
 * healthy session writes almost nothing to workflow history. Heartbeats carry the last tickle.
 *
 * A 429 is not a lost session: while the gateway refuses REST requests from this pod's address
 * (another program overdid it; see src/gateway/penaltyBox.ts) the session is kept alive over the
 * websocket with `tic`, which IBKR does not pace, and the session workflow is told of the penalty
 * box's start and end. REST tickles resume by themselves once the box is over.
 */
export function createKeepAlive(deps: PodDependencies) {
  return async function keepAlive(connectionId: string, opts: { intervalMs: number; maxDurationMs?: number }): Promise<KeepaliveEnded> {
    const ctx = Context.current();
    // Ending well before the activity's start-to-close timeout keeps a timeout from ever being
    // mistaken for a gateway problem; the workflow simply starts the next keepalive.
    const endAt = Date.now() + (opts.maxDurationMs ?? 6 * 60 * 60 * 1000);
    const gateway = deps.gateway(connectionId);
    const workflowId = ctx.info.workflowExecution?.workflowId ?? '';
    const log = deps.log.child({ connectionId });
    let lastTickleAt: string | null = null;
    let websocket: WebsocketKeepalive | null = null;
    let wake: (() => void) | null = null;

    let reported = 'null';
    const report = (penalty: PacingPenalty | null) => {
      const key = JSON.stringify(penalty);
      if (key === reported || !workflowId) return;
      reported = key;
      if (penalty) log.warn({ until: penalty.until, path: penalty.path }, 'the gateway is refusing REST requests from this pod (penalty box); keeping the session alive over the websocket');
      else log.info('the gateway serves REST requests again; REST keepalive resumed');
      void deps.temporal.workflow
        .getHandle(workflowId)
        .signal(pacingSignal, penalty)
        .catch((err: Error) => log.warn({ error: err.message }, 'could not tell the session workflow of the penalty box'));
    };
    const unsubscribe = gateway.penalty.subscribe(report);
    report(gateway.penalty.penalty);

    /** One keepalive: a REST tickle when the gateway serves them, else a websocket `tic`. Null = alive. */
    async function once(): Promise<KeepaliveEnded['reason'] | null> {
      if (websocket?.lost) return ENDED_BY_WEBSOCKET[websocket.lost];
      if (gateway.penalty.blockedForMs(TICKLE) === 0) {
        try {
          const started = process.hrtime.bigint();
          const result = await gateway.tickle();
          observeTickle(connectionId, Number(process.hrtime.bigint() - started) / 1e9);
          websocket?.close();
          websocket = null;
          if (result.authStatus.competing) return 'competing';
          if (!result.authStatus.authenticated) return 'not_authenticated';
          return null;
        } catch (err) {
          if (err instanceof GatewayError && err.kind === 'unauthorized') return 'sso_gone';
          if (!(err instanceof GatewayError && err.kind === 'rate_limited')) throw gatewayFailure(err);
          // Refused: this round goes over the websocket instead.
        }
      }
      const session = gateway.knowledge.sessionId;
      if (!session) throw gatewayFailure(new GatewayError('rate_limited', `${TICKLE}: refused, and no websocket session is known yet`, 429, gateway.penalty.blockedForMs(TICKLE)));
      websocket ??= new WebsocketKeepalive({
        baseUrl: gateway.opts.baseUrl,
        verifyTls: gateway.opts.verifyTls,
        session,
        knowledge: gateway.knowledge,
        onLost: () => wake?.(),
      });
      let alive: boolean;
      try {
        alive = await websocket.tic();
      } catch (err) {
        websocket.close();
        websocket = null;
        const message = `${TICKLE}: refused (429), and the websocket keepalive failed too: ${(err as Error).message}`;
        throw gatewayFailure(new GatewayError('rate_limited', message, 429, gateway.penalty.blockedForMs(TICKLE)));
      }
      return alive ? null : ENDED_BY_WEBSOCKET[websocket.lost ?? 'not_authenticated'];
    }

    try {
      for (;;) {
        const ended = await once();
        if (ended !== null) return { reason: ended, lastTickleAt };
        lastTickleAt = new Date().toISOString();
        ctx.heartbeat({ lastTickleAt });
        if (Date.now() >= endAt) return { reason: 'refresh', lastTickleAt };
        let waited = 0;
        while (waited < opts.intervalMs) {
          const step = Math.min(HEARTBEAT_EVERY_MS, opts.intervalMs - waited);
          const woken = new Promise<void>((resolve) => (wake = resolve));
          await Promise.race([ctx.sleep(step), woken]); // ctx.sleep rejects when the workflow cancels us
          wake = null;
          waited += step;
          ctx.heartbeat({ lastTickleAt });
          if ((websocket as WebsocketKeepalive | null)?.lost) break; // the socket pushed a loss: act on it now
        }
      }
    } finally {
      unsubscribe();
      (websocket as WebsocketKeepalive | null)?.close();
    }
  };
}
