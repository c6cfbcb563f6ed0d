import { GatewayError } from '../src/gateway/gatewayError';
import type { GatewayClient } from '../src/gateway/gatewayClient';
import { WebsocketKeepalive } from '../src/gateway/websocketKeepalive';
import type { GatewaySessionCheck } from '../src/contract/sessionStatus';
import { gatewayFailure } from './activityFailure';
import type { PodDependencies } from './podDependencies';

/**
 * Asks the gateway what state the session is in; the workflow picks the recovery step from it.
 * While the gateway refuses REST requests from this pod (a 429, IBKR's penalty box), the
 * websocket answers instead: a live session is `usable` (with the penalty), anything else waits
 * for the box to end — no recovery starts on a refusal alone.
 */
export function createCheckSession(deps: PodDependencies) {
  return async function checkSession(connectionId: string): Promise<GatewaySessionCheck> {
    const gateway = deps.gateway(connectionId);
    try {
      if (gateway.penalty.blockedForMs(AUTH_STATUS) > 0) return await checkOverWebsocket(gateway);
      const status = await gateway.authStatus();
      if (status.competing) return { kind: 'competing' };
      if (status.authenticated && status.connected) return { kind: 'usable', serverName: status.serverName, clockSkewMs: gateway.lastClockSkewMs, pacing: gateway.penalty.penalty };
      if (status.connected) return { kind: 'no_bridge' };
      return { kind: 'sso_gone' };
    } catch (err) {
      if (err instanceof GatewayError && err.kind === 'unauthorized') return { kind: 'sso_gone' };
      if (err instanceof GatewayError && err.kind === 'rate_limited') {
        try {
          return await checkOverWebsocket(gateway);
        } catch (wsErr) {
          throw gatewayFailure(wsErr);
        }
      }
      throw gatewayFailure(err);
    }
  };
}

const AUTH_STATUS = '/v1/api/iserver/auth/status';

/** A live session over the websocket is usable; otherwise the refusal stands until the box is over. */
async function checkOverWebsocket(gateway: GatewayClient): Promise<GatewaySessionCheck> {
  const refused = () => new GatewayError('rate_limited', `${AUTH_STATUS}: the gateway is refusing this address, and the websocket does not show a live session`, 429, gateway.penalty.blockedForMs(AUTH_STATUS));
  const session = gateway.knowledge.sessionId;
  if (!session) throw refused();
  const websocket = new WebsocketKeepalive({ baseUrl: gateway.opts.baseUrl, verifyTls: gateway.opts.verifyTls, session, knowledge: gateway.knowledge, answerWithinMs: 5_000 });
  try {
    if (!(await websocket.tic())) throw refused();
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    throw new GatewayError('rate_limited', `${refused().message} (${(err as Error).message})`, 429, gateway.penalty.blockedForMs(AUTH_STATUS));
  } finally {
    websocket.close();
  }
  const serverInfo = (gateway.knowledge.freshAuthStatus(Number.POSITIVE_INFINITY)?.body.serverInfo ?? {}) as Record<string, unknown>;
  return { kind: 'usable', serverName: typeof serverInfo.serverName === 'string' ? serverInfo.serverName : '', clockSkewMs: null, pacing: gateway.penalty.penalty };
}
