/**
 * Workflow ids and task queue names. Pure functions: imported by workflows, workers and the CLI.
 *
 * One IBKR username holds one brokerage session at a time, so the session workflow id is derived
 * from the username (lower-cased: IBKR usernames are case-insensitive) and Temporal itself refuses
 * a second session workflow for the same username.
 */
export function sessionWorkflowId(username: string): string {
  return `ibkr-session:${username.trim().toLowerCase()}`;
}

export function depthWorkflowId(connectionId: string): string {
  return `ibkr-depth:${connectionId}`;
}

/** The one coordinator that moves depth instruments off connections that stay unusable. */
export const DEPTH_COORDINATOR_WORKFLOW_ID = 'ibflow-depth-coordinator';

/** The Temporal Schedule that drops old depth partitions. */
export const DEPTH_RETENTION_SCHEDULE_ID = 'ibflow-depth-retention';

/** Gateway activities must run next to their gateway, so every pod polls a queue of its own. */
export function podTaskQueue(pod: string): string {
  return `ibflow-pod-${pod}`;
}

export const CONTROL_TASK_QUEUE = 'ibflow-control';
