import { ApplicationFailure, Context } from '@temporalio/activity';
import { GatewayError } from '../src/gateway/gatewayError';
import type { KeepaliveEnded } from '../src/contract/sessionStatus';
import { gatewayFailure } from './activityFailure';
import { observeTickle } from '../src/metrics/metrics';
import { HEARTBEAT_EVERY_MS } from './heartbeatCadence';
import type { PodDependencies } from './podDependencies';

/**
 * Tickles the gateway every `intervalMs` and returns only when the session needs attention, so a
 * healthy session writes almost nothing to workflow history. Heartbeats carry the last tickle.
 */
export function createKeepAlive(deps: PodDependencies) {
  return async function keepAlive(connectionId: string, opts: { intervalMs: number; maxDurationMs?: number }): Promise<KeepaliveEnded> {
    const ctx = Context.current();
    // Ending well before the activity's start-to-close timeout keeps a timeout from ever being
    // mistaken for a gateway problem; the workflow simply starts the next keepalive.
    const endAt = Date.now() + (opts.maxDurationMs ?? 6 * 60 * 60 * 1000);
    const gateway = deps.gateway(connectionId);
    let lastTickleAt: string | null = null;
    for (;;) {
      try {
        const started = process.hrtime.bigint();
        const result = await gateway.tickle();
        observeTickle(connectionId, Number(process.hrtime.bigint() - started) / 1e9);
        if (result.authStatus.competing) return { reason: 'competing', lastTickleAt };
        if (!result.authStatus.authenticated) return { reason: 'not_authenticated', lastTickleAt };
        lastTickleAt = new Date().toISOString();
      } catch (err) {
        if (err instanceof GatewayError && err.kind === 'unauthorized') return { reason: 'sso_gone', lastTickleAt };
        if (err instanceof ApplicationFailure) throw err;
        throw gatewayFailure(err);
      }
      ctx.heartbeat({ lastTickleAt });
      if (Date.now() >= endAt) return { reason: 'refresh', lastTickleAt };
      let waited = 0;
      while (waited < opts.intervalMs) {
        const step = Math.min(HEARTBEAT_EVERY_MS, opts.intervalMs - waited);
        await ctx.sleep(step); // rejects when the workflow cancels us
        waited += step;
        ctx.heartbeat({ lastTickleAt });
      }
    }
  };
}
