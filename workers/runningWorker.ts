import type { Worker } from '@temporalio/worker';

export interface RunningWorker {
  worker: Worker;
  /** Resolves when the worker has stopped (after shutdown()) and its resources are released. */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/** Runs a worker; `release` frees what it used (connections, sink, endpoints) once it has stopped. */
export function runWorker(worker: Worker, release: () => Promise<void>): RunningWorker {
  const done = worker.run().finally(release);
  return {
    worker,
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}
