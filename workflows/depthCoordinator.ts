import * as wf from '@temporalio/workflow';
import { depthWorkflowId } from '../src/contract/ids';
import {
  assignDepthSignal,
  configureDepthSignal,
  connectionHealthSignal,
  depthAssignmentQuery,
} from './depthMessages';
import type { DepthCoordinatorConfig, DepthPlan } from '../src/contract/depthTypes';
import { instrumentsKey, nextThresholdInMs, planDepthAssignment, type ConnectionHealth } from './depthPlan';

export interface DepthCoordinatorInput {
  config: DepthCoordinatorConfig;
  /** Carried over continue-as-new. */
  health?: Record<string, ConnectionHealth>;
  sent?: Record<string, string>;
}

/**
 * One per cluster (id `ibflow-depth-coordinator`). Depth workflows report their connection's
 * health (signal `connectionHealth`); a connection unusable for longer than `moveAfterMs` has its
 * instruments moved to healthy connections within their ladder limit, and they move back when it
 * recovers (see `planDepthAssignment`). Each depth workflow whose instruments change is told with
 * `assignDepth` (null = back to its config default). The config (default assignment, limits) comes
 * with the start and with `configureDepth` signals (signalWithStart from the embedded stack).
 */
export async function depthCoordinatorWorkflow(input: DepthCoordinatorInput): Promise<void> {
  let config = input.config;
  const health: Record<string, ConnectionHealth> = { ...(input.health ?? {}) };
  /** What each depth workflow was last told, as an instruments key ('default' = config). */
  const sent: Record<string, string> = { ...(input.sent ?? {}) };
  let changed = true;
  let plan: DepthPlan = planDepthAssignment(config.connections, health, Date.now(), config);

  wf.setHandler(connectionHealthSignal, (connectionId, usable) => {
    const h = health[connectionId];
    if (h && h.usable === usable) return;
    health[connectionId] = { usable, sinceMs: Date.now() };
    changed = true;
  });
  wf.setHandler(configureDepthSignal, (next) => {
    config = next;
    changed = true;
  });
  wf.setHandler(depthAssignmentQuery, () => plan);

  for (;;) {
    if (wf.workflowInfo().continueAsNewSuggested) {
      await wf.condition(wf.allHandlersFinished);
      await wf.continueAsNew<typeof depthCoordinatorWorkflow>({ config, health, sent });
    }
    changed = false;
    const now = Date.now();
    const previous = plan;
    plan = planDepthAssignment(config.connections, health, now, config);
    if (instrumentsKeyOfPlan(plan) !== instrumentsKeyOfPlan(previous)) {
      wf.log.info('depth assignment changed', { moved: plan.moved, unplaced: plan.unplaced, failed: plan.failed });
      wf.upsertMemo({ moved: plan.moved.length, unplaced: plan.unplaced.length, failed: plan.failed.join(',') });
    }
    for (const c of config.connections) {
      const list = plan.assignment[c.connectionId] ?? [];
      const isDefault = instrumentsKey(list) === instrumentsKey(c.instruments);
      const key = isDefault ? 'default' : instrumentsKey(list);
      if ((sent[c.connectionId] ?? 'default') === key) continue;
      sent[c.connectionId] = key;
      await wf
        .getExternalWorkflowHandle(depthWorkflowId(c.connectionId))
        .signal(assignDepthSignal, isDefault ? null : list)
        .catch(() => undefined); // not running: it starts with the config default
    }
    const wake = nextThresholdInMs(health, now, config.moveAfterMs);
    if (wake === undefined) await wf.condition(() => changed);
    else await wf.condition(() => changed, wake);
  }
}

function instrumentsKeyOfPlan(plan: DepthPlan): string {
  return Object.entries(plan.assignment)
    .map(([id, list]) => `${id}=${instrumentsKey(list)}`)
    .join(';');
}
