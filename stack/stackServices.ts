/** The services of the embedded stack, each as a supervisor ServiceSpec, in a child process or in this process. */
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createEmbeddedAdminClickHouseClient } from '../src/clickhouse/clickhouseClient';
import { loadUsersFile, startSimulator, type SimHandle } from '../sim';
import { migrate } from '../src/clickhouse/migrations';
import type { IbflowConfig } from '../src/config/schema';
import { createLogger } from '../src/logging/logger';
import { freePort } from '../src/util/freePort';
import { startControlWorker } from '../workers/controlWorker';
import { startPodWorker } from '../workers/podWorker';
import type { RunningWorker } from '../workers/runningWorker';
import { startLoggedChild } from './childProcess';
import { startEmbeddedClickHouse, type EmbeddedClickHouse } from './embeddedClickHouse';
import { PROJECT_ROOT } from './projectPaths';
import { restartsOnExit, type ResolvedStackOptions, type StackPod } from './stackOptions';
import type { ServiceSpec } from './supervisor';
import { startTemporalDevServer, temporalPaths, type TemporalDevServer } from './temporalDevServer';
import { bundleOnce } from './workflowBundle';

const CLI = join(PROJECT_ROOT, 'cli', 'bin.js');
const logsDir = (opts: ResolvedStackOptions) => join(opts.stateDir, 'logs');

export function temporalService(opts: ResolvedStackOptions, started: (server: TemporalDevServer) => void): ServiceSpec {
  return {
    name: 'temporal',
    restartOnExit: restartsOnExit(opts, 'temporal'),
    async start() {
      const server = await startTemporalDevServer({ port: opts.ports.temporal, uiPort: opts.ports.temporalUi, ...temporalPaths(opts.stateDir) });
      started(server);
      return server;
    },
  };
}

/** ClickHouse on its ports and data; the schema is migrated on every start (a no-op when up to date). */
export function clickhouseService(opts: ResolvedStackOptions, database: string, started: (server: EmbeddedClickHouse) => void): ServiceSpec {
  return {
    name: 'clickhouse',
    restartOnExit: restartsOnExit(opts, 'clickhouse'),
    async start() {
      const server = await startEmbeddedClickHouse({ dataDir: join(opts.stateDir, 'clickhouse'), httpPort: opts.ports.clickhouseHttp, tcpPort: opts.ports.clickhouseTcp });
      const client = createEmbeddedAdminClickHouseClient(server.url);
      try {
        const { applied, serverVersion } = await migrate(client, { database });
        opts.progress(`  clickhouse ${serverVersion}: ${applied.length ? `applied migrations ${applied.join(', ')}` : 'schema up to date'}`);
      } catch (err) {
        await server.stop();
        throw err;
      } finally {
        await client.close();
      }
      started(server);
      return server;
    },
  };
}

/** One simulated gateway; an in-process one is handed to `started` (its control plane injects faults). */
export function simulatorService(opts: ResolvedStackOptions, pod: StackPod, started: (sim: SimHandle) => void): ServiceSpec {
  const name = `gateway ${pod.pod} (simulated)`;
  const logFile = join(logsDir(opts), `sim-${pod.pod}.log`);
  if (opts.simulators === 'child-processes') {
    return {
      name,
      restartOnExit: restartsOnExit(opts, 'simulator'),
      start: async () =>
        startLoggedChild({
          command: process.execPath,
          args: [CLI, 'sim', '--port', String(pod.gatewayPort), '--control-port', String(await freePort()), '--state-dir', join(opts.stateDir, 'sim'), '--users', pod.usersFile, '--auth-delay-ms', String(opts.simulator.authDelayMs)],
          logFile,
          readyWhen: /listening on/,
        }),
    };
  }
  return {
    name,
    async start() {
      mkdirSync(logsDir(opts), { recursive: true, mode: 0o700 });
      const simLog = createWriteStream(logFile, { flags: 'a' });
      const sim = await startSimulator({
        port: pod.gatewayPort,
        stateDir: join(opts.stateDir, 'sim'),
        users: loadUsersFile(pod.usersFile),
        authDelayMs: opts.simulator.authDelayMs,
        ...(opts.simulator.framesPerSecond === null ? {} : { depth: { framesPerSecond: opts.simulator.framesPerSecond } }),
        log: (msg, fields) => simLog.write(`${new Date().toISOString()} ${msg}${fields ? ` ${JSON.stringify(fields)}` : ''}\n`),
      });
      started(sim);
      return {
        async stop() {
          await sim.close();
          await new Promise<void>((r) => simLog.end(r));
        },
      };
    },
  };
}

export const controlWorkerName = 'control worker';
export const podWorkerName = (pod: string) => `pod worker ${pod}`;

/** The control worker and one pod worker per pod, each a child process that reads the config file. */
export function workerChildServices(opts: ResolvedStackOptions, configPath: string, pods: StackPod[]): ServiceSpec[] {
  const restartOnExit = restartsOnExit(opts, 'worker');
  const control: ServiceSpec = {
    name: controlWorkerName,
    restartOnExit,
    start: () =>
      startLoggedChild({
        command: process.execPath,
        args: [CLI, 'worker', 'control', '--config', configPath],
        logFile: join(logsDir(opts), 'worker-control.log'),
        readyWhen: /control worker polling/,
        timeoutMs: opts.readyTimeoutMs.controlWorker,
      }),
  };
  return [
    control,
    ...pods.map((pod) => ({
      name: podWorkerName(pod.pod),
      restartOnExit,
      start: () =>
        startLoggedChild({
          command: process.execPath,
          args: [CLI, 'worker', 'pod', '--pod', pod.pod, '--config', configPath],
          logFile: join(logsDir(opts), `worker-${pod.pod}.log`),
          readyWhen: /pod worker polling/,
          timeoutMs: opts.readyTimeoutMs.podWorker,
        }),
    })),
  ];
}

/**
 * The control worker and the pod workers in this process, as one service. They are kept in
 * `workers`, which callers may change (a test replaces a pod worker); stopping shuts down whatever is there.
 */
export function workersInProcessService(config: IbflowConfig, pods: StackPod[], workers: RunningWorker[]): ServiceSpec {
  return {
    name: 'workers (in-process)',
    async start() {
      const log = createLogger('stack', { write: () => undefined } as never);
      const stop = async () => {
        await Promise.allSettled(workers.map((w) => w.shutdown()));
      };
      try {
        workers.push(await startControlWorker({ config: () => config, workflowBundle: await bundleOnce(), log }));
        for (const pod of pods) workers.push(await startPodWorker({ pod: pod.pod, config: () => config, log }));
      } catch (err) {
        await stop();
        throw err;
      }
      return { stop };
    },
  };
}
