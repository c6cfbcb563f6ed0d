import { simControl } from '../../sim/controlClient';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { Client } from '@temporalio/client';
import { connectTemporal } from '../../src/temporal/temporalClient';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { startEmbeddedClickHouse, type EmbeddedClickHouse } from '../../stack/embeddedClickHouse';
import { ensureDemoSetup, writeDemoSimUsers, type DemoPod } from '../../stack/demoSetup';
import { startTemporalDevServer, temporalPaths, type TemporalDevServer } from '../../stack/temporalDevServer';
import { loadUsersFile, startSimulator, type SimHandle } from '../../sim';
import { migrate } from '../../src/clickhouse/migrations';
import { loadConfig } from '../../src/config/loadConfig';
import type { IbflowConfig } from '../../src/config/schema';
import { createLogger } from '../../src/logging/logger';
import { freePort } from '../../src/util/freePort';
import { startControlWorker } from '../../workers/controlWorker';
import { startPodWorker, type RunningWorker } from '../../workers/podWorker';

export interface TestStack {
  stateDir: string;
  config: IbflowConfig;
  configPath: string;
  temporal: TemporalDevServer;
  clickhouseServer: EmbeddedClickHouse;
  clickhouse: ClickHouseClient;
  client: Client;
  sims: Map<string, SimHandle>;
  pods: DemoPod[];
  workers: RunningWorker[];
  /** Stops the Temporal dev server, waits `downMs`, and starts it again on the same port and database. */
  restartTemporal(downMs: number): Promise<void>;
  /** Stops ClickHouse; the returned function starts it again on the same ports and data. */
  stopClickHouse(): Promise<() => Promise<void>>;
  stop(): Promise<void>;
}

export interface TestStackOptions {
  /** Config edits applied after the demo config is written (e.g. a shorter keepalive). */
  editConfig?: (config: IbflowConfig) => IbflowConfig;
  authDelayMs?: number;
}

/**
 * Everything a user would run, isolated for a test: real Temporal dev server and ClickHouse on free
 * ports with their own state dir, the simulator per pod and the workers in-process.
 */
export async function startTestStack(opts: TestStackOptions = {}): Promise<TestStack> {
  const stateDir = mkdtempSync(join(tmpdir(), 'ibflow-test-'));
  const [temporalPort, uiPort, chHttp, chTcp, gw1, gw2] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
  const { configPath, pods } = ensureDemoSetup(stateDir, {
    temporalPort,
    clickhouseHttpPort: chHttp,
    gatewayPortBase: gw1,
    gatewayPorts: [gw1, gw2],
  });
  const loaded = loadConfig(configPath);
  const config = opts.editConfig ? opts.editConfig(loaded) : loaded;

  const temporalOptions = { port: temporalPort, uiPort, ...temporalPaths(stateDir) };
  const clickhouseOptions = { dataDir: join(stateDir, 'clickhouse'), httpPort: chHttp, tcpPort: chTcp };
  const [firstTemporal, firstClickHouse, workflowBundle] = await Promise.all([
    startTemporalDevServer(temporalOptions),
    startEmbeddedClickHouse(clickhouseOptions),
    bundleOnce(),
  ]);
  let clickhouseServer = firstClickHouse;
  const clickhouse = createClient({ url: clickhouseServer.url });
  await migrate(clickhouse, { database: config.clickhouse.database });

  const sims = new Map<string, SimHandle>();
  for (const pod of pods) {
    await writeDemoSimUsers(stateDir, pod);
    sims.set(
      pod.pod,
      await startSimulator({
        port: pod.gatewayPort,
        stateDir: join(stateDir, 'sim'),
        users: loadUsersFile(pod.usersFile),
        authDelayMs: opts.authDelayMs ?? 3000,
      }),
    );
  }

  const log = createLogger('test', { write: () => undefined } as never);
  const workers: RunningWorker[] = [];
  workers.push(await startControlWorker({ config: () => config, workflowBundle, log }));
  for (const pod of pods) workers.push(await startPodWorker({ pod: pod.pod, config: () => config, log }));

  const temporalClient = await connectTemporal(config);
  const client = temporalClient.client;
  let temporal = firstTemporal;

  return {
    stateDir,
    config,
    configPath,
    get temporal() {
      return temporal;
    },
    get clickhouseServer() {
      return clickhouseServer;
    },
    clickhouse,
    client,
    sims,
    pods,
    workers,
    async restartTemporal(downMs) {
      await temporal.stop();
      await new Promise((r) => setTimeout(r, downMs));
      temporal = await startTemporalDevServer(temporalOptions);
    },
    async stopClickHouse() {
      await clickhouseServer.stop();
      return async () => {
        clickhouseServer = await startEmbeddedClickHouse(clickhouseOptions);
      };
    },
    async stop() {
      // Workflows keep running in the server; stopping it ends them with the test.
      await Promise.allSettled(workers.map((w) => w.shutdown()));
      await temporalClient.close();
      await Promise.allSettled([...sims.values()].map((s) => s.close()));
      await clickhouse.close();
      await Promise.allSettled([clickhouseServer.stop(), temporal.stop()]);
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

let bundle: Promise<WorkflowBundleWithSourceMap> | null = null;
/** Bundling the workflows takes seconds; do it once per test file. */
export function bundleOnce(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quietBundlerLogger });
  return bundle;
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (message: string) => process.stderr.write(`${message}\n`),
};

export async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 60_000, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

export { simControl };
