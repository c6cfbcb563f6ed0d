import { ApplicationFailure } from '@temporalio/activity';
import { podTaskQueue, sessionWorkflowId } from '../src/contract/ids';
import { type ConnectionFacts } from '../src/contract/sessionStatus';
import { FailureType } from '../src/contract/failureTypes';
import type { ControlDependencies } from './controlDependencies';

/** The non-secret facts a workflow needs about its connection (which pod, which mode). */
export function createDescribeConnection(deps: ControlDependencies) {
  return async function describeConnection(connectionId: string): Promise<ConnectionFacts> {
    const connection = deps.config().connections.find((c) => c.id === connectionId);
    if (!connection) {
      throw ApplicationFailure.create({ type: FailureType.ConfigInvalid, message: `unknown connection "${connectionId}"`, nonRetryable: true });
    }
    return {
      connectionId,
      mode: connection.mode,
      pod: connection.pod,
      podTaskQueue: podTaskQueue(connection.pod),
      hasInstruments: connection.instruments.length > 0,
      sessionWorkflowId: sessionWorkflowId(connection.username),
      competingPolicy: connection.competingPolicy,
    };
  };
}
