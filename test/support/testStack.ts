import type { ClickHouseClient } from '@clickhouse/client';
import type { Client } from '@temporalio/client';
import type { SimHandle } from '../../sim';
import { simControl } from '../../sim/controlClient';
import type { IbflowConfig } from '../../src/config/schema';
import { waitFor } from '../../src/util/waitFor';
import type { StackPod } from '../../stack/stackOptions';
import type { EmbeddedClickHouse } from '../../stack/embeddedClickHouse';
import { startScratchStack, type ScratchStackOptions } from '../../stack/scratchStack';
import type { TemporalDevServer } from '../../stack/temporalDevServer';
import { bundleOnce } from '../../stack/workflowBundle';
import type { RunningWorker } from '../../workers/runningWorker';

export interface TestStack {
  stateDir: string;
  config: IbflowConfig;
  configPath: string;
  temporal: TemporalDevServer;
  clickhouseServer: EmbeddedClickHouse;
  clickhouse: ClickHouseClient;
  client: Client;
  sims: Map<string, SimHandle>;
  pods: StackPod[];
  workers: RunningWorker[];
  /** Stops the Temporal dev server, waits `downMs`, and starts it again on the same port and database. */
  restartTemporal(downMs: number): Promise<void>;
  /** Stops ClickHouse; the returned function starts it again on the same ports and data. */
  stopClickHouse(): Promise<() => Promise<void>>;
  stop(): Promise<void>;
}

export type TestStackOptions = ScratchStackOptions;

/**
 * Everything a user would run, isolated for a test (stack/scratchStack.ts): real Temporal dev
 * server and ClickHouse on free ports with their own state dir, the simulator per pod and the
 * workers in-process.
 */
export async function startTestStack(opts: TestStackOptions = {}): Promise<TestStack> {
  const stack = await startScratchStack(opts);
  return {
    stateDir: stack.stateDir,
    config: stack.config,
    configPath: stack.configPath,
    get temporal() {
      return stack.temporal;
    },
    get clickhouseServer() {
      return stack.clickhouseServer;
    },
    clickhouse: stack.clickhouse,
    client: stack.client,
    sims: stack.sims,
    pods: stack.pods,
    workers: stack.workers,
    restartTemporal: (downMs) => stack.restartTemporal(downMs),
    async stopClickHouse() {
      await stack.stopClickHouse();
      return () => stack.startClickHouse();
    },
    stop: () => stack.stop(),
  };
}

export { bundleOnce, simControl, waitFor };
