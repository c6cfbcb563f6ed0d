import { mkdirSync } from 'node:fs';
import type { ClickHouseClient } from '@clickhouse/client';
import { createEmbeddedAdminClickHouseClient } from '../src/clickhouse/clickhouseClient';
import type { Client } from '@temporalio/client';
import type { SimHandle } from '../sim';
import { loadConfig } from '../src/config/loadConfig';
import type { IbflowConfig } from '../src/config/schema';
import { connectTemporal, type ConnectedClient } from '../src/temporal/temporalClient';
import type { RunningWorker } from '../workers/runningWorker';
import { ensureDemoSetup, writeDemoSimUsers } from './demoSetup';
import { describeSupervisorEvent } from './describeSupervisorEvent';
import type { EmbeddedClickHouse } from './embeddedClickHouse';
import { resolveStackOptions, type StackOptions, type StackPod } from './stackOptions';
import { clickhouseService, podWorkerName, simulatorService, temporalService, workerChildServices, workersInProcessService } from './stackServices';
import { Supervisor } from './supervisor';
import type { TemporalDevServer } from './temporalDevServer';
import { bundleOnce } from './workflowBundle';

export interface Stack {
  stateDir: string;
  config: IbflowConfig;
  configPath: string;
  pods: StackPod[];
  readonly temporal: TemporalDevServer;
  readonly clickhouseServer: EmbeddedClickHouse;
  temporalUiUrl: string;
  clickhouseUrl: string;
  /** A ClickHouse client and a Temporal client for the caller; closed by stop(). */
  clickhouse: ClickHouseClient;
  client: Client;
  /** In-process simulators by pod (empty when they run as child processes). */
  sims: Map<string, SimHandle>;
  /** In-process workers (empty when they run as child processes); stop() shuts down whatever is here. */
  workers: RunningWorker[];
  stopTemporal(): Promise<void>;
  startTemporal(): Promise<void>;
  /** Stops the Temporal dev server, waits downMs, starts it again on the same port and database. */
  restartTemporal(downMs: number): Promise<void>;
  stopClickHouse(): Promise<void>;
  startClickHouse(): Promise<void>;
  /** Stops ClickHouse, waits downMs, starts it again on the same ports and data. */
  restartClickHouse(downMs: number): Promise<void>;
  /** SIGKILLs a pod worker child process (restarted by the restart policy); false when there is none. */
  killPodWorker(pod: string): boolean;
  /** How often each pod worker was restarted after exiting on its own. */
  podWorkerRestarts(): Record<string, number>;
  /** Stops every service in reverse order; the state dir stays. */
  stop(): Promise<void>;
}

/**
 * The one builder of the embedded stack, for `ibflow up`, the test stack and the soak: Temporal dev
 * server, ClickHouse (migrated), one simulated gateway per pod, the control worker and one pod
 * worker per pod — workers and simulators as supervised child processes or in this process.
 * Starts no workflows: that is the caller's business.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  const opts = resolveStackOptions(options);
  const supervisor = new Supervisor((event) => {
    opts.onEvent(event);
    opts.progress(describeSupervisorEvent(event));
  }, opts.restart.policy);
  const sims = new Map<string, SimHandle>();
  const workers: RunningWorker[] = [];
  let temporal: TemporalDevServer | null = null;
  let clickhouseServer: EmbeddedClickHouse | null = null;
  let clickhouse: ClickHouseClient | null = null;
  let temporalClient: ConnectedClient | null = null;
  const closeClients = async () => {
    await temporalClient?.close().catch(() => undefined);
    await clickhouse?.close().catch(() => undefined);
  };
  try {
    mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
    // In-process control workers need the workflow bundle: make it while the servers start.
    if (opts.workers === 'in-process') bundleOnce().catch(() => undefined);
    const { configPath, pods } =
      opts.config.kind === 'demo'
        ? ensureDemoSetup(opts.stateDir, { temporalPort: opts.ports.temporal, clickhouseHttpPort: opts.ports.clickhouseHttp, gatewayPortBase: opts.config.gatewayPortBase, gatewayPorts: opts.config.gatewayPorts, appPorts: opts.config.appPorts })
        : { configPath: opts.config.configPath, pods: opts.config.pods };
    if (opts.config.kind === 'demo') for (const pod of pods) await writeDemoSimUsers(opts.stateDir, pod);
    const loaded = loadConfig(configPath);
    const config = opts.config.kind === 'demo' && opts.config.editConfig ? opts.config.editConfig(loaded) : loaded;

    await Promise.all([
      supervisor.start(temporalService(opts, (server) => (temporal = server))),
      supervisor.start(clickhouseService(opts, config.clickhouse.database, (server) => (clickhouseServer = server))),
    ]);
    for (const pod of pods) await supervisor.start(simulatorService(opts, pod, (sim) => sims.set(pod.pod, sim)));
    if (opts.workers === 'in-process') await supervisor.start(workersInProcessService(config, pods, workers));
    else await Promise.all(workerChildServices(opts, configPath, pods).map((spec) => supervisor.start(spec)));

    clickhouse = createEmbeddedAdminClickHouseClient(config.clickhouse.url);
    // One client for the stack's life: gRPC reconnects by itself after a Temporal restart.
    temporalClient = await connectTemporal(config);
    const openedClickHouse = clickhouse;
    const client = temporalClient.client;
    const restart = async (name: string, downMs: number) => {
      await supervisor.stopService(name);
      await new Promise((r) => setTimeout(r, downMs));
      await supervisor.startService(name);
    };
    return {
      stateDir: opts.stateDir,
      config,
      configPath,
      pods,
      get temporal() {
        return temporal!;
      },
      get clickhouseServer() {
        return clickhouseServer!;
      },
      temporalUiUrl: temporal!.uiUrl,
      clickhouseUrl: config.clickhouse.url,
      clickhouse: openedClickHouse,
      client,
      sims,
      workers,
      stopTemporal: () => supervisor.stopService('temporal'),
      startTemporal: () => supervisor.startService('temporal'),
      restartTemporal: (downMs) => restart('temporal', downMs),
      stopClickHouse: () => supervisor.stopService('clickhouse'),
      startClickHouse: () => supervisor.startService('clickhouse'),
      restartClickHouse: (downMs) => restart('clickhouse', downMs),
      killPodWorker: (pod) => supervisor.kill(podWorkerName(pod)),
      podWorkerRestarts: () => Object.fromEntries(pods.map((p) => [p.pod, supervisor.restartCount(podWorkerName(p.pod))])),
      async stop() {
        supervisor.beginStop();
        await closeClients();
        await supervisor.stopAll();
      },
    };
  } catch (err) {
    supervisor.beginStop();
    await closeClients();
    await supervisor.stopAll();
    // The bundle started above must not go on compiling after the caller gave up (in a test, jest
    // tears its module registry down, and webpack then fails the next test file in the process).
    if (opts.workers === 'in-process') await bundleOnce().catch(() => undefined);
    throw err;
  }
}
