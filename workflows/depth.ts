import * as wf from '@temporalio/workflow';
import type { ControlActivities, PodActivities } from '../activities';
import { CONTROL_TASK_QUEUE } from '../src/session/ids';
import { FailureType } from '../src/session/sessionStatus';
import { backoffDelayMs } from './backoff';
import { failureOf } from './failureOf';
import { sessionChangedSignal, stopDepthSignal } from './messages';

export interface DepthWorkflowInput {
  connectionId: string;
}

/** How often to look at the gateway when no signal says the session came back. */
const RECHECK_MS = 30_000;

/**
 * Supervises the depth stream of one connection: runs the stream activity on the pod only while
 * the session is usable, stops it when the session is lost, restarts it with backoff on failure.
 */
export async function depthWorkflow(input: DepthWorkflowInput): Promise<void> {
  const { connectionId } = input;
  let sessionUsable = false;
  let stopRequested = false;
  wf.setHandler(sessionChangedSignal, (usable) => {
    sessionUsable = usable;
  });
  wf.setHandler(stopDepthSignal, () => {
    stopRequested = true;
  });

  const control = wf.proxyActivities<ControlActivities>({
    taskQueue: CONTROL_TASK_QUEUE,
    startToCloseTimeout: '30 seconds',
    retry: { maximumAttempts: 5 },
  });
  const facts = await control.describeConnection(connectionId);
  if (!facts.hasInstruments) return;
  const gateway = wf.proxyActivities<PodActivities>({
    taskQueue: facts.podTaskQueue,
    scheduleToStartTimeout: '1 minute',
    startToCloseTimeout: '1 minute',
    retry: { maximumAttempts: 1 },
  });
  const stream = wf.proxyActivities<PodActivities>({
    taskQueue: facts.podTaskQueue,
    scheduleToStartTimeout: '1 minute',
    startToCloseTimeout: '24 hours', // a daily fresh stream (with its gap marker) is fine
    heartbeatTimeout: '20 seconds',
    retry: { maximumAttempts: 1 },
  });

  let failures = 0;
  while (!stopRequested) {
    if (wf.workflowInfo().continueAsNewSuggested) {
      await wf.condition(wf.allHandlersFinished);
      await wf.continueAsNew<typeof depthWorkflow>(input);
    }
    let usableNow = false;
    try {
      usableNow = (await gateway.checkSession(connectionId)).kind === 'usable';
    } catch {
      usableNow = false;
    }
    if (!usableNow) {
      sessionUsable = false;
      await wf.condition(() => sessionUsable || stopRequested, RECHECK_MS);
      continue;
    }
    sessionUsable = true;
    const scope = new wf.CancellationScope();
    try {
      await scope.run(() => {
        const streaming = stream.streamDepth(connectionId, { sessionWorkflowId: facts.sessionWorkflowId });
        const lost = wf.condition(() => !sessionUsable || stopRequested);
        void streaming.catch(() => undefined);
        void lost.catch(() => undefined);
        return Promise.race([streaming, lost]);
      });
      failures = 0;
    } catch (err) {
      const failure = failureOf(err);
      if (failure.type === FailureType.SessionLost) {
        sessionUsable = false;
        continue;
      }
      if (failure.type === 'DepthOverLimit' || failure.type === 'NoAccount' || failure.type === FailureType.ConfigInvalid) {
        // A config problem: retrying cannot help. Wait for a stop (a config change restarts the workflow).
        wf.upsertMemo({ problem: `${failure.type}: ${failure.message}` });
        await wf.condition(() => stopRequested);
        break;
      }
      failures++;
      await wf.condition(() => stopRequested, backoffDelayMs(failures, Math.random));
    } finally {
      scope.cancel();
    }
  }
}
