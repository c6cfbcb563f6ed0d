import { ApplicationFailure, Context } from '@temporalio/activity';
import { FailureType } from '../src/contract/failureTypes';
import { gatewayFailure } from './activityFailure';
import type { PodDependencies } from './podDependencies';

/**
 * "Client login succeeds" is not yet a brokerage session: ssodh/init opens it, then auth status
 * must say authenticated. Polls briefly because the gateway may take a few seconds.
 */
export function createOpenBrokerageSession(deps: PodDependencies) {
  return async function openBrokerageSession(connectionId: string, opts: { compete: boolean }): Promise<{ serverName: string }> {
    const gateway = deps.gateway(connectionId);
    try {
      await gateway.openBrokerageSession(opts.compete);
      const deadline = Date.now() + 15_000;
      for (;;) {
        const status = await gateway.authStatus();
        if (status.authenticated && status.connected) return { serverName: status.serverName };
        if (status.competing) {
          throw ApplicationFailure.create({ type: FailureType.CompetingSession, message: 'another session holds this username', nonRetryable: true });
        }
        if (Date.now() > deadline) {
          throw ApplicationFailure.create({ type: FailureType.NoBridge, message: 'brokerage session did not open within 15 s of ssodh/init', nonRetryable: true });
        }
        Context.current().heartbeat();
        await Context.current().sleep(500);
      }
    } catch (err) {
      if (err instanceof ApplicationFailure) throw err;
      throw gatewayFailure(err);
    }
  };
}
