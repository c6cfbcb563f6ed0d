import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createControlActivities } from '../activities';
import { connectClickHouse } from './clickhouseClient';
import type { IbflowConfig } from '../src/config/schema';
import { startWorkerOps } from '../src/health/workerOps';
import { installTemporalRuntimeLogging } from '../src/logging/temporalRuntime';
import { createLogger, type Logger } from '../src/logging/logger';
import { CONTROL_TASK_QUEUE } from '../src/contract/ids';
import { runWorker, type RunningWorker } from './runningWorker';

export interface ControlWorkerOptions {
  config: () => IbflowConfig;
  log?: Logger;
  /** A prebuilt bundle (tests build it once); otherwise workflows/ is bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Serve /metrics, /healthz and /readyz on this port (0 = any free port); off when undefined. */
  metricsPort?: number;
}

/** Runs the workflows (anywhere in the cluster) and the activities that need no gateway. */
export async function startControlWorker(opts: ControlWorkerOptions): Promise<RunningWorker> {
  const initial = opts.config();
  const log = opts.log ?? createLogger('control-worker');
  installTemporalRuntimeLogging(log);
  const connection = await NativeConnection.connect({ address: initial.temporal.address });
  const clickhouse = await connectClickHouse(initial, process.env, log);
  const worker = await Worker.create({
    connection,
    namespace: initial.temporal.namespace,
    taskQueue: CONTROL_TASK_QUEUE,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: require.resolve('../workflows') }),
    activities: createControlActivities({ config: opts.config, clickhouse, log }),
    shutdownGraceTime: '5 seconds',
  });
  const ops = opts.metricsPort === undefined ? null : await startWorkerOps({ port: opts.metricsPort, workerName: 'control', worker });
  if (ops) log.info({ metrics: `${ops.url}/metrics` }, 'metrics, /healthz and /readyz listening');
  log.info({ taskQueue: CONTROL_TASK_QUEUE }, 'control worker polling');
  return runWorker(worker, async () => {
    ops?.markStopping();
    await ops?.close();
    await clickhouse.close();
    await connection.close();
  });
}
