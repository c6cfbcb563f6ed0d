import type { Worker } from '@temporalio/worker';
import { collectProcessMetrics, metrics } from '../metrics/metrics';
import { startOpsServer, type OpsServer, type ReadinessCheck } from './opsServer';

/**
 * The one call a worker makes: metrics + /healthz + /readyz on `port` (0 = any free port),
 * ready while the Temporal worker is RUNNING (plus any extra checks).
 */
export async function startWorkerOps(opts: { port: number; host?: string; workerName: string; worker: Worker; extraChecks?: ReadinessCheck[] }): Promise<OpsServer> {
  collectProcessMetrics();
  const up = () => {
    const running = opts.worker.getState() === 'RUNNING';
    metrics.workerUp.set({ worker: opts.workerName }, running ? 1 : 0);
    return running ? true : `temporal worker is ${opts.worker.getState().toLowerCase()}`;
  };
  up();
  return startOpsServer({
    port: opts.port,
    host: opts.host,
    readiness: [{ name: 'temporal-worker', check: up }, ...(opts.extraChecks ?? [])],
  });
}
