import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { ScheduleAlreadyRunning, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { withTemporalClient } from '../src/temporal/temporalClient';
import { migrate } from '../src/clickhouse/migrations';
import { loadConfig } from '../src/config/loadConfig';
import { depthSettings, type IbflowConfig } from '../src/config/schema';
import { CONTROL_TASK_QUEUE, DEPTH_COORDINATOR_WORKFLOW_ID, DEPTH_RETENTION_SCHEDULE_ID, depthWorkflowId, sessionWorkflowId } from '../src/session/ids';
import type { SessionStatus } from '../src/session/sessionStatus';
import { configureDepthSignal, type DepthCoordinatorConfig } from '../workflows/depthMessages';
import { statusQuery } from '../workflows/messages';
import { IbflowConnection, IbflowMode, IbflowState } from '../workflows/searchAttributes';
import { startLoggedChild } from './childProcess';
import { startEmbeddedClickHouse } from './clickhouse/embeddedClickHouse';
import { ensureDemoSetup, writeDemoSimUsers } from './demo/demoSetup';
import { PROJECT_ROOT } from './projectPaths';
import { Supervisor, type SupervisorEvent } from './supervisor';
import { startTemporalDevServer, temporalPaths } from './temporal/devServer';
import { freePort } from '../src/util/freePort';

export interface EmbeddedStackOptions {
  stateDir: string;
  temporalPort: number;
  temporalUiPort: number;
  clickhouseHttpPort: number;
  clickhouseTcpPort: number;
  gatewayPortBase: number;
  progress: (line: string) => void;
}

export interface EmbeddedStack {
  config: IbflowConfig;
  configPath: string;
  temporalUiUrl: string;
  clickhouseUrl: string;
  stop(): Promise<void>;
}

const CLI = join(PROJECT_ROOT, 'cli', 'bin.js');

/**
 * `ibflow up`: the whole system on one machine. Temporal dev server, ClickHouse, one simulated
 * gateway per pod, the control worker and one pod worker per pod, all supervised child processes;
 * then one session workflow per connection and one depth workflow per connection, started
 * idempotently so a second `up` resumes the same workflows.
 */
export async function startEmbeddedStack(opts: EmbeddedStackOptions): Promise<EmbeddedStack> {
  const { stateDir, progress } = opts;
  const logs = join(stateDir, 'logs');
  const supervisor = new Supervisor((event) => progress(describeEvent(event)));
  try {
    const { configPath, pods } = ensureDemoSetup(stateDir, {
      temporalPort: opts.temporalPort,
      clickhouseHttpPort: opts.clickhouseHttpPort,
      gatewayPortBase: opts.gatewayPortBase,
    });
    const config = loadConfig(configPath);

    let temporalUiUrl = '';
    await supervisor.start({
      name: 'temporal',
      async start() {
        const server = await startTemporalDevServer({ port: opts.temporalPort, uiPort: opts.temporalUiPort, ...temporalPaths(stateDir) });
        temporalUiUrl = server.uiUrl;
        return server;
      },
    });

    await supervisor.start({
      name: 'clickhouse',
      async start() {
        const server = await startEmbeddedClickHouse({
          dataDir: join(stateDir, 'clickhouse'),
          httpPort: opts.clickhouseHttpPort,
          tcpPort: opts.clickhouseTcpPort,
        });
        const client = createClient({ url: server.url });
        try {
          const { applied, serverVersion } = await migrate(client, { database: config.clickhouse.database });
          progress(`  clickhouse ${serverVersion}: ${applied.length ? `applied migrations ${applied.join(', ')}` : 'schema up to date'}`);
        } finally {
          await client.close();
        }
        return server;
      },
    });

    for (const pod of pods) {
      await writeDemoSimUsers(stateDir, pod);
      await supervisor.start({
        name: `gateway ${pod.pod} (simulated)`,
        start: async () =>
          startLoggedChild({
            command: process.execPath,
            args: [CLI, 'sim', '--port', String(pod.gatewayPort), '--control-port', String(await freePort()), '--state-dir', join(stateDir, 'sim'), '--users', pod.usersFile],
            logFile: join(logs, `sim-${pod.pod}.log`),
            readyWhen: /listening on/,
          }),
      });
    }

    await supervisor.start({
      name: 'control worker',
      start: () =>
        startLoggedChild({
          command: process.execPath,
          args: [CLI, 'worker', 'control', '--config', configPath],
          logFile: join(logs, 'worker-control.log'),
          readyWhen: /control worker polling/,
          timeoutMs: 180_000, // bundling the workflows takes a while on a 2-core box
        }),
    });
    for (const pod of pods) {
      await supervisor.start({
        name: `pod worker ${pod.pod}`,
        start: () =>
          startLoggedChild({
            command: process.execPath,
            args: [CLI, 'worker', 'pod', '--pod', pod.pod, '--config', configPath],
            logFile: join(logs, `worker-${pod.pod}.log`),
            readyWhen: /pod worker polling/,
          }),
      });
    }

    await startConnectionWorkflows(config, progress);
    await startDepthMaintenance(config, progress);
    return {
      config,
      configPath,
      temporalUiUrl,
      clickhouseUrl: config.clickhouse.url,
      stop: () => supervisor.stopAll(),
    };
  } catch (err) {
    supervisor.beginStop();
    await supervisor.stopAll();
    throw err;
  }
}

/** One session workflow per username and one depth workflow per connection; existing ones are kept. */
export async function startConnectionWorkflows(config: IbflowConfig, progress: (line: string) => void): Promise<void> {
  return withTemporalClient(config, async (client) => {
    for (const c of config.connections) {
      const sessionId = sessionWorkflowId(c.username);
      await client.workflow.start('sessionWorkflow', {
        taskQueue: CONTROL_TASK_QUEUE,
        workflowId: sessionId,
        args: [
          {
            connectionId: c.id,
            keepaliveIntervalMs: config.session.keepaliveIntervalMs,
            maxFailedLoginsPerDay: config.session.maxFailedLoginsPerDay,
            competingCooldownMs: config.session.competingCooldownMs,
            ...(config.session.maintenance ? { maintenance: config.session.maintenance } : {}),
          },
        ],
        workflowIdConflictPolicy: 'USE_EXISTING',
        typedSearchAttributes: [
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
  });
}

/** A session workflow for this username already running for another connection (another config or deployment). */
export class UsernameTakenError extends Error {
  override name = 'UsernameTakenError';
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

/**
 * Idempotently, for the whole config: the depth coordinator (started if absent, and sent the
 * current config either way), a depth workflow for every connection — also those without default
 * instruments, which the coordinator may fill while another connection is down — and the daily
 * retention schedule (created, or updated to the current retention).
 */
export async function startDepthMaintenance(config: IbflowConfig, progress: (line: string) => void): Promise<void> {
  const depth = depthSettings(config);
  return withTemporalClient(config, async (client) => {
    const coordinatorConfig = depthCoordinatorConfig(config);
    await client.workflow.signalWithStart('depthCoordinatorWorkflow', {
      taskQueue: CONTROL_TASK_QUEUE,
      workflowId: DEPTH_COORDINATOR_WORKFLOW_ID,
      args: [{ config: coordinatorConfig }],
      signal: configureDepthSignal,
      signalArgs: [coordinatorConfig],
    });
    for (const c of config.connections) {
      if (c.instruments.length > 0) continue; // started by startConnectionWorkflows
      await startDepthWorkflow(client, c.id);
    }
    progress(`  depth coordinator ${DEPTH_COORDINATOR_WORKFLOW_ID} running (${depth.maxLaddersPerAccount} ladder(s) per account, move after ${depth.moveAfterMs / 1000} s)`);

    const action = {
      type: 'startWorkflow' as const,
      workflowType: 'depthRetentionWorkflow',
      taskQueue: CONTROL_TASK_QUEUE,
      args: [{ database: config.clickhouse.database, retentionDays: depth.retentionDays }],
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
    progress(`  retention schedule ${DEPTH_RETENTION_SCHEDULE_ID}: drop depth partitions older than ${depth.retentionDays} days, daily`);
  });
}

/** Safe statuses of every connection's session (null while its workflow is not there yet). */
export async function sessionStatuses(config: IbflowConfig): Promise<Map<string, SessionStatus | null>> {
  return withTemporalClient(config, async (client) => {
    const out = new Map<string, SessionStatus | null>();
    for (const c of config.connections) {
      try {
        out.set(c.id, await client.workflow.getHandle(sessionWorkflowId(c.username)).query(statusQuery));
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        out.set(c.id, null);
      }
    }
    return out;
  });
}

function describeEvent(event: SupervisorEvent): string {
  switch (event.kind) {
    case 'starting':
      return `  starting ${event.name}…`;
    case 'ready':
      return `  ✓ ${event.name} ready (${((event.ms ?? 0) / 1000).toFixed(1)} s)`;
    case 'crashed':
      return `  ! ${event.name} exited (${event.code ?? event.signal}); restarting in ${event.restartInMs / 1000} s`;
    case 'restart_failed':
      return `  ! ${event.name} failed to restart: ${event.error}`;
    case 'stopping':
      return `  stopping ${event.name}…`;
    case 'stopped':
      return `  ✓ ${event.name} stopped`;
  }
}

/** The depth workflow of a connection; an existing one is kept. */
async function startDepthWorkflow(client: Client, connectionId: string): Promise<void> {
  await client.workflow.start('depthWorkflow', {
    taskQueue: CONTROL_TASK_QUEUE,
    workflowId: depthWorkflowId(connectionId),
    args: [{ connectionId }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [{ key: IbflowConnection, value: connectionId }],
  });
}
