import { ScheduleAlreadyRunning, type Client } from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import { withTemporalClient } from '../temporal/temporalClient';
import { isNotFound } from '../temporal/temporalRpc';
import { depthSettings, type IbflowConfig } from '../config/schema';
import { CONTROL_TASK_QUEUE, DEPTH_COORDINATOR_WORKFLOW_ID, DEPTH_RETENTION_SCHEDULE_ID, depthWorkflowId, sessionWorkflowId } from '../contract/ids';
import type { SessionStatus } from '../contract/sessionStatus';
import type { DepthCoordinatorConfig } from '../contract/depthTypes';
import { sessionWorkflow, type SessionWorkflowInput } from '../../workflows/session';
import { depthWorkflow } from '../../workflows/depth';
import { depthCoordinatorWorkflow } from '../../workflows/depthCoordinator';
import { depthRetentionWorkflow } from '../../workflows/depthRetention';
import { configureDepthSignal } from '../../workflows/depthMessages';
import { IbflowConnection, IbflowMode, IbflowState } from '../../workflows/searchAttributes';
import { querySessionStatus } from './sessionControl';

/** A session workflow for this username already running for another connection (another config or deployment). */
export class UsernameTakenError extends Error {
  override name = 'UsernameTakenError';
}

export interface StartSessionOptions {
  workflowId: string;
  input: SessionWorkflowInput;
  /** Keep a running workflow with this id instead of failing (default true). */
  useExisting?: boolean;
  searchAttributes?: SearchAttributePair[];
  memo?: Record<string, unknown>;
}

/** Starts one session workflow (typed by the workflow function). */
export async function startSessionWorkflow(client: Client, opts: StartSessionOptions): Promise<void> {
  await client.workflow.start(sessionWorkflow, {
    taskQueue: CONTROL_TASK_QUEUE,
    workflowId: opts.workflowId,
    args: [opts.input],
    ...(opts.useExisting === false ? {} : { workflowIdConflictPolicy: 'USE_EXISTING' as const }),
    ...(opts.searchAttributes ? { typedSearchAttributes: opts.searchAttributes } : {}),
    ...(opts.memo ? { memo: opts.memo } : {}),
  });
}

/** The depth workflow of a connection; an existing one is kept. */
export async function startDepthWorkflow(client: Client, connectionId: string): Promise<void> {
  await client.workflow.start(depthWorkflow, {
    taskQueue: CONTROL_TASK_QUEUE,
    workflowId: depthWorkflowId(connectionId),
    args: [{ connectionId }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [{ key: IbflowConnection, value: connectionId }],
  });
}

/** One session workflow per username and one depth workflow per connection; existing ones are kept. */
export async function startConnectionWorkflows(config: IbflowConfig, progress: (line: string) => void): Promise<void> {
  return withTemporalClient(config, (client) => startConnectionWorkflowsWith(client, config, progress));
}

/** {@link startConnectionWorkflows} on a client the caller owns. */
export async function startConnectionWorkflowsWith(client: Client, config: IbflowConfig, progress: (line: string) => void): Promise<void> {
  for (const c of config.connections) {
    const sessionId = sessionWorkflowId(c.username);
    await startSessionWorkflow(client, {
      workflowId: sessionId,
      input: {
        connectionId: c.id,
        keepaliveIntervalMs: config.session.keepaliveIntervalMs,
        maxFailedLoginsPerDay: config.session.maxFailedLoginsPerDay,
        competingCooldownMs: config.session.competingCooldownMs,
        outageReportAfterMs: config.session.outageReportAfterMs,
        ...(config.session.maintenance ? { maintenance: config.session.maintenance } : {}),
      },
      searchAttributes: [
        { key: IbflowConnection, value: c.id },
        { key: IbflowMode, value: c.mode },
        { key: IbflowState, value: 'reconnecting' },
      ],
      memo: { connectionId: c.id, mode: c.mode, pod: c.pod },
    });
    await refuseForeignSession(client, sessionId, c.id, c.username);
    progress(`  session workflow ${sessionId} (${c.id}, ${c.mode}) running`);
    if (c.instruments.length > 0) await startDepthWorkflow(client, c.id);
  }
}

/**
 * IBKR allows one session per username: a running session workflow that belongs to another
 * connection id is refused, never shared (two configs fighting over one username kick each other).
 */
async function refuseForeignSession(client: Client, sessionId: string, connectionId: string, username: string): Promise<void> {
  const running = await client.workflow.getHandle(sessionId).describe();
  const owner = (running.memo as { connectionId?: unknown } | undefined)?.connectionId;
  if (typeof owner === 'string' && owner !== connectionId) {
    throw new UsernameTakenError(
      `connection "${connectionId}": IBKR username ${username} already has a running session workflow (${sessionId}) for connection "${owner}"; ` +
        `IBKR allows one session per username — use that connection, or stop its workflow first (temporal workflow terminate -w ${sessionId})`,
    );
  }
}

/** The coordinator's view of the config: the default assignment and the limits. */
export function depthCoordinatorConfig(config: IbflowConfig): DepthCoordinatorConfig {
  const depth = depthSettings(config);
  return {
    connections: config.connections.map((c) => ({ connectionId: c.id, instruments: c.instruments.map((i) => ({ ...i })) })),
    maxLaddersPerAccount: depth.maxLaddersPerAccount,
    moveAfterMs: depth.moveAfterMs,
  };
}

/** The depth coordinator, started if absent and sent the current config either way. */
export async function configureDepthCoordinator(client: Client, coordinatorConfig: DepthCoordinatorConfig): Promise<void> {
  await client.workflow.signalWithStart(depthCoordinatorWorkflow, {
    taskQueue: CONTROL_TASK_QUEUE,
    workflowId: DEPTH_COORDINATOR_WORKFLOW_ID,
    args: [{ config: coordinatorConfig }],
    signal: configureDepthSignal,
    signalArgs: [coordinatorConfig],
  });
}

/** The daily retention schedule: created, or updated to the current database and retention. */
export async function ensureRetentionSchedule(client: Client, database: string, retentionDays: number): Promise<void> {
  const action = {
    type: 'startWorkflow' as const,
    workflowType: depthRetentionWorkflow,
    taskQueue: CONTROL_TASK_QUEUE,
    args: [{ database, retentionDays }] as [{ database: string; retentionDays: number }],
  };
  try {
    await client.schedule.create({
      scheduleId: DEPTH_RETENTION_SCHEDULE_ID,
      spec: { calendars: [{ hour: 3, minute: 17 }] }, // daily, 03:17 UTC
      action,
      policies: { overlap: 'SKIP', catchupWindow: '1 day' },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(DEPTH_RETENTION_SCHEDULE_ID).update((previous) => ({ ...previous, action: { ...previous.action, ...action } }));
  }
}

/**
 * Idempotently, for the whole config: the depth coordinator (started if absent, and sent the
 * current config either way), a depth workflow for every connection — also those without default
 * instruments, which the coordinator may fill while another connection is down — and the daily
 * retention schedule (created, or updated to the current retention).
 */
export async function startDepthMaintenance(config: IbflowConfig, progress: (line: string) => void): Promise<void> {
  return withTemporalClient(config, (client) => startDepthMaintenanceWith(client, config, progress));
}

/** {@link startDepthMaintenance} on a client the caller owns. */
export async function startDepthMaintenanceWith(client: Client, config: IbflowConfig, progress: (line: string) => void): Promise<void> {
  const depth = depthSettings(config);
  await configureDepthCoordinator(client, depthCoordinatorConfig(config));
  for (const c of config.connections) {
    if (c.instruments.length > 0) continue; // started by startConnectionWorkflows
    await startDepthWorkflow(client, c.id);
  }
  progress(`  depth coordinator ${DEPTH_COORDINATOR_WORKFLOW_ID} running (${depth.maxLaddersPerAccount} ladder(s) per account, move after ${depth.moveAfterMs / 1000} s)`);
  await ensureRetentionSchedule(client, config.clickhouse.database, depth.retentionDays);
  progress(`  retention schedule ${DEPTH_RETENTION_SCHEDULE_ID}: drop depth partitions older than ${depth.retentionDays} days, daily`);
}

/** Safe statuses of every connection's session (null while its workflow is not there yet). */
export async function sessionStatuses(config: IbflowConfig): Promise<Map<string, SessionStatus | null>> {
  return withTemporalClient(config, (client) => sessionStatusesWith(client, config));
}

/** {@link sessionStatuses} on a client the caller owns. */
export async function sessionStatusesWith(client: Client, config: IbflowConfig): Promise<Map<string, SessionStatus | null>> {
  const out = new Map<string, SessionStatus | null>();
  for (const c of config.connections) {
    try {
      out.set(c.id, await querySessionStatus(client, c.username));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      out.set(c.id, null);
    }
  }
  return out;
}
