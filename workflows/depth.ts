import * as wf from '@temporalio/workflow';
import type { ControlActivities, PodActivities } from '../activities';
import { CONTROL_TASK_QUEUE, DEPTH_COORDINATOR_WORKFLOW_ID } from '../src/contract/ids';
import { FailureType } from '../src/contract/failureTypes';
import { backoffDelayMs } from './backoff';
import {
  assignDepthSignal,
  connectionHealthSignal,
  depthProblemSignal,
  depthStatusQuery,
} from './depthMessages';
import type { DepthInstrument, DepthStatus } from '../src/contract/depthTypes';
import { instrumentsKey } from './depthPlan';
import { failureOf } from './failureOf';
import { PATCHES } from './patches';
import { sessionChangedSignal, stopDepthSignal } from './messages';

export interface DepthWorkflowInput {
  connectionId: string;
  /** Carried over continue-as-new: the coordinator's last assignment (null/undefined = config). */
  assignment?: DepthInstrument[] | null;
}

/** How often to look at the gateway when no signal says the session came back. */
const RECHECK_MS = 30_000;
const MAX_PROBLEMS = 10;

/**
 * Supervises the depth stream of one connection: runs the stream activity on the pod only while
 * the session is usable, stops it when the session is lost, restarts it with backoff on failure,
 * and restarts it with the new instruments when the coordinator changes the assignment. Tells the
 * coordinator when the session becomes usable or unusable. Over-limit and refused instruments are
 * reported by the stream (signal `depthProblem`) into the memo and the `depthStatus` query, and
 * are not retried.
 */
export async function depthWorkflow(input: DepthWorkflowInput): Promise<void> {
  const { connectionId } = input;
  let sessionUsable = false;
  let stopRequested = false;
  let assignment: DepthInstrument[] | null = input.assignment ?? null;
  let assignmentVersion = 0;
  const status: DepthStatus = { connectionId, state: 'waiting_for_session', assignment, problems: [], failures: 0, streamsStarted: 0 };

  const addProblem = (problem: string) => {
    status.problems = [...status.problems, problem].slice(-MAX_PROBLEMS);
    wf.upsertMemo({ problem });
    wf.log.warn('depth problem', { connectionId, problem });
  };
  wf.setHandler(sessionChangedSignal, (usable) => {
    sessionUsable = usable;
  });
  wf.setHandler(stopDepthSignal, () => {
    stopRequested = true;
  });
  wf.setHandler(assignDepthSignal, (instruments) => {
    if (instrumentsKey(instruments) === instrumentsKey(assignment)) return;
    assignment = instruments;
    status.assignment = instruments;
    assignmentVersion++;
  });
  wf.setHandler(depthProblemSignal, addProblem);
  wf.setHandler(depthStatusQuery, () => status);

  let reportedHealth: boolean | null = null;
  const reportHealth = (usable: boolean) => {
    if (reportedHealth === usable) return;
    reportedHealth = usable;
    void wf
      .getExternalWorkflowHandle(DEPTH_COORDINATOR_WORKFLOW_ID)
      .signal(connectionHealthSignal, connectionId, usable)
      .catch(() => undefined); // no coordinator: the config assignment stands
  };

  const control = wf.proxyActivities<ControlActivities>({
    taskQueue: CONTROL_TASK_QUEUE,
    startToCloseTimeout: '30 seconds',
    retry: { maximumAttempts: 5 },
  });
  const facts = await control.describeConnection(connectionId);
  const gateway = wf.proxyActivities<PodActivities>({
    taskQueue: facts.podTaskQueue,
    scheduleToStartTimeout: '1 minute',
    startToCloseTimeout: '1 minute',
    retry: { maximumAttempts: 1 },
  });
  const streamOptions: wf.ActivityOptions = {
    taskQueue: facts.podTaskQueue,
    scheduleToStartTimeout: '1 minute',
    startToCloseTimeout: '24 hours', // a daily fresh stream (with its gap markers) is fine
    heartbeatTimeout: '30 seconds', // heartbeats every 3 s: a Temporal restart of ~25 s leaves it running
    retry: { maximumAttempts: 1 },
  };
  const stream = wf.proxyActivities<PodActivities>(streamOptions);
  // The same, but a cancelled stream is awaited until it has really ended (unsubscribed, flushed):
  // the next stream of the account must not subscribe while the old one still holds its ladder.
  const streamAwaitingCancel = wf.proxyActivities<PodActivities>({ ...streamOptions, cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED });

  let failures = 0;
  while (!stopRequested) {
    if (wf.workflowInfo().continueAsNewSuggested) {
      await wf.condition(wf.allHandlersFinished);
      await wf.continueAsNew<typeof depthWorkflow>({ connectionId, assignment });
    }
    let usableNow = false;
    try {
      usableNow = (await gateway.checkSession(connectionId)).kind === 'usable';
    } catch {
      usableNow = false;
    }
    reportHealth(usableNow);
    if (!usableNow) {
      sessionUsable = false;
      status.state = 'waiting_for_session';
      await wf.condition(() => sessionUsable || stopRequested, RECHECK_MS);
      continue;
    }
    sessionUsable = true;
    const hasWork = assignment === null ? facts.hasInstruments : assignment.length > 0;
    if (!hasWork) {
      // Nothing to stream (no instruments, or all moved away): keep reporting health for the coordinator.
      status.state = 'idle';
      const version = assignmentVersion;
      await wf.condition(() => stopRequested || assignmentVersion !== version || !sessionUsable, RECHECK_MS);
      continue;
    }
    const version = assignmentVersion;
    const scope = new wf.CancellationScope();
    status.state = 'streaming';
    status.streamsStarted++;
    const awaitCancelled = wf.patched(PATCHES.streamEndsBeforeTheNext);
    let running: Promise<unknown> | null = null;
    try {
      const result = await scope.run(() => {
        const streaming = (awaitCancelled ? streamAwaitingCancel : stream).streamDepth(connectionId, { sessionWorkflowId: facts.sessionWorkflowId, instruments: assignment });
        running = streaming;
        const lost = wf.condition(() => !sessionUsable || stopRequested || assignmentVersion !== version);
        void streaming.catch(() => undefined);
        void lost.catch(() => undefined);
        return Promise.race([streaming, lost.then(() => null)]);
      });
      failures = 0;
      if (!sessionUsable) reportHealth(false);
      if (result !== null) {
        // The stream ended by itself (nothing left to stream after the limit): do not spin.
        status.state = 'idle';
        await wf.condition(() => stopRequested || assignmentVersion !== version || !sessionUsable, RECHECK_MS);
      }
    } catch (err) {
      const failure = failureOf(err);
      if (failure.type === FailureType.SessionLost) {
        sessionUsable = false;
        reportHealth(false);
        continue;
      }
      if (failure.type === FailureType.NoAccount || failure.type === FailureType.ConfigInvalid) {
        // A config problem: retrying cannot help. Wait for a stop (a config change restarts the workflow).
        status.state = 'config_problem';
        addProblem(`${failure.type}: ${failure.message}`);
        await wf.condition(() => stopRequested);
        break;
      }
      failures++;
      status.state = 'backing_off';
      await wf.condition(() => stopRequested || assignmentVersion !== version, backoffDelayMs(failures, Math.random));
    } finally {
      status.failures = failures;
      scope.cancel();
      if (awaitCancelled && running !== null) await (running as Promise<unknown>).catch(() => undefined);
    }
  }
  status.state = 'stopped';
}
