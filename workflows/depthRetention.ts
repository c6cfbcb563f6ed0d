import * as wf from '@temporalio/workflow';
import type { DepthControlActivities } from '../activities';

export interface DepthRetentionInput {
  database: string;
  retentionDays: number;
}

/**
 * Run by the Temporal Schedule `ibflow-depth-retention` (daily): drops the `depth` partitions
 * (one per UTC day) whose newest day is older than `retentionDays` before today (UTC, workflow
 * time). Returns the partitions dropped.
 */
export async function depthRetentionWorkflow(input: DepthRetentionInput): Promise<string[]> {
  const control = wf.proxyActivities<DepthControlActivities>({
    startToCloseTimeout: '5 minutes',
    retry: { maximumAttempts: 5, initialInterval: '10 seconds' },
  });
  return control.dropOldDepthPartitions({ database: input.database, retentionDays: input.retentionDays, nowMs: Date.now() });
}
