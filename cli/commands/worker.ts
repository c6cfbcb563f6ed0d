import type { Command } from 'commander';
import { defaultConfigPath, loadConfig } from '../../src/config/loadConfig';
import type { RunningWorker } from '../../workers/podWorker';
import { parsePort } from './sim';

const metricsPortOption = ['--metrics-port <port>', 'serve /metrics, /healthz and /readyz on this port (default: $IBFLOW_METRICS_PORT, else off)', (v: string) => parsePort(v, '--metrics-port')] as const;
const envMetricsPort = () => (process.env.IBFLOW_METRICS_PORT ? parsePort(process.env.IBFLOW_METRICS_PORT, 'IBFLOW_METRICS_PORT') : undefined);

/** `ibflow worker control|pod`: the worker processes (started by `up`, or by k8s/compose). */
export function registerWorkerCommand(program: Command): void {
  const worker = program.command('worker').description('Run a worker process');
  worker
    .command('control')
    .description('Workflows and gateway-free activities (task queue ibflow-control)')
    .option('--config <file>', 'config file', defaultConfigPath())
    .option(...metricsPortOption)
    .action(async (opts: { config: string; metricsPort?: number }) => {
      loadConfig(opts.config); // fail fast with a clear message
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when the command runs, not at startup
      const { startControlWorker } = require('../../workers/controlWorker') as typeof import('../../workers/controlWorker');
      await runUntilSignal(await startControlWorker({ config: () => loadConfig(opts.config), metricsPort: opts.metricsPort ?? envMetricsPort() }));
    });
  worker
    .command('pod')
    .description('Gateway activities and the depth stream of one pod (task queue ibflow-pod-<pod>)')
    .requiredOption('--pod <name>', 'pod name; its connections are those with this `pod` in config')
    .option('--config <file>', 'config file', defaultConfigPath())
    .option(...metricsPortOption)
    .action(async (opts: { pod: string; config: string; metricsPort?: number }) => {
      loadConfig(opts.config);
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when the command runs, not at startup
      const { startPodWorker } = require('../../workers/podWorker') as typeof import('../../workers/podWorker');
      await runUntilSignal(await startPodWorker({ pod: opts.pod, config: () => loadConfig(opts.config), metricsPort: opts.metricsPort ?? envMetricsPort() }));
    });
}

async function runUntilSignal(running: RunningWorker): Promise<void> {
  const stop = () => void running.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await running.done;
}
