import { createCheckSession } from './checkSession';
import { createDescribeConnection } from './describeConnection';
import { createDropOldDepthPartitions } from './dropOldDepthPartitions';
import { createKeepAlive } from './keepAlive';
import { createLoginWithBrowser } from './loginWithBrowser';
import { createOpenBrokerageSession } from './openBrokerageSession';
import { createRecordSessionEvent } from './recordSessionEvent';
import { createStreamDepth } from './streamDepth';
import type { ControlDependencies } from './controlDependencies';
import type { PodDependencies } from './podDependencies';

/** Activities that talk to a gateway: registered only on the pod worker next to that gateway. */
export function createPodActivities(deps: PodDependencies) {
  return {
    checkSession: createCheckSession(deps),
    openBrokerageSession: createOpenBrokerageSession(deps),
    loginWithBrowser: createLoginWithBrowser(deps),
    keepAlive: createKeepAlive(deps),
    streamDepth: createStreamDepth(deps),
  };
}

/** Activities with no gateway: registered on the control worker beside the workflows. */
export function createControlActivities(deps: ControlDependencies) {
  return { ...createSessionControlActivities(deps), ...createDepthControlActivities(deps) };
}

function createSessionControlActivities(deps: ControlDependencies) {
  return {
    describeConnection: createDescribeConnection(deps),
    recordSessionEvent: createRecordSessionEvent(deps),
  };
}

/** Depth maintenance (retention), also on the control worker. */
export function createDepthControlActivities(deps: ControlDependencies) {
  return {
    dropOldDepthPartitions: createDropOldDepthPartitions(deps),
  };
}

export type PodActivities = ReturnType<typeof createPodActivities>;
export type ControlActivities = ReturnType<typeof createSessionControlActivities>;
export type DepthControlActivities = ReturnType<typeof createDepthControlActivities>;
export type { ControlDependencies, PodDependencies };
