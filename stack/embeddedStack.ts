import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { migrate } from '../src/clickhouse/migrations';
import { loadConfig } from '../src/config/loadConfig';
import type { IbflowConfig } from '../src/config/schema';
import { startConnectionWorkflows, startDepthMaintenance } from '../src/operations/connectionWorkflows';
import { startLoggedChild } from './childProcess';
import { startEmbeddedClickHouse } from './embeddedClickHouse';
import { ensureDemoSetup, writeDemoSimUsers } from './demoSetup';
import { PROJECT_ROOT } from './projectPaths';
import { Supervisor, type SupervisorEvent } from './supervisor';
import { startTemporalDevServer, temporalPaths } from './temporalDevServer';
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
