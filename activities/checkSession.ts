import { GatewayError } from '../src/gateway/gatewayError';
import type { GatewaySessionCheck } from '../src/contract/sessionStatus';
import { gatewayFailure } from './activityFailure';
import type { PodDependencies } from './podDependencies';

/** Asks the gateway what state the session is in; the workflow picks the recovery step from it. */
export function createCheckSession(deps: PodDependencies) {
  return async function checkSession(connectionId: string): Promise<GatewaySessionCheck> {
    try {
      const gateway = deps.gateway(connectionId);
      const status = await gateway.authStatus();
      if (status.competing) return { kind: 'competing' };
      if (status.authenticated && status.connected) return { kind: 'usable', serverName: status.serverName, clockSkewMs: gateway.lastClockSkewMs };
      if (status.connected) return { kind: 'no_bridge' };
      return { kind: 'sso_gone' };
    } catch (err) {
      if (err instanceof GatewayError && err.kind === 'unauthorized') return { kind: 'sso_gone' };
      throw gatewayFailure(err);
    }
  };
}
