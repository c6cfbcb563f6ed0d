import { simulatedConnectionConfig } from '../stack/demoSetup';
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { Client } from '@temporalio/client';
import { connectTemporal } from '../src/temporal/temporalClient';
import { stringify as toYaml } from 'yaml';
import { loadUsersFile, startSimulator, type SimHandle } from '../sim';
import { migrate } from '../src/clickhouse/migrations';
import { loadConfig } from '../src/config/loadConfig';
import type { IbflowConfig } from '../src/config/schema';
import { FileSecretStore } from '../src/secrets/fileSecretStore';
import { secretFilePath } from '../src/secrets/secretResolver';
import { freePort } from '../src/util/freePort';
import { startLoggedChild } from '../stack/childProcess';
import { startEmbeddedClickHouse, type EmbeddedClickHouse } from '../stack/embeddedClickHouse';
import { PROJECT_ROOT } from '../stack/projectPaths';
import type { RunningService } from '../stack/supervisor';
import { startTemporalDevServer, temporalPaths, type TemporalDevServer } from '../stack/temporalDevServer';
import { canaryActivationCode, canaryPassword, type Canary } from './canary';

const CLI = join(PROJECT_ROOT, 'cli', 'bin.js');
/** Instruments of the simulator's built-in list; one ladder per account (activities/streamDepth.ts). */
const CONIDS = [265598, 8314, 272093, 76792991, 756733, 4391];

export interface SoakConnection {
  id: string;
  mode: 'paper' | 'live';
  username: string;
  account: string;
  pod: string;
  conid: number;
  gatewayPort: number;
  usersFile: string;
}

export interface SoakStackOptions {
  stateDir: string;
  pods: number;
  /** Depth frames per second per subscription. */
  framesPerSecond: number;
  log: (line: string) => void;
}

/** A child process that is restarted whenever it exits, until stop(); SIGKILL-able by the soak. */
class KeptChild {
  private current: RunningService | null = null;
  private stopping = false;
  restarts = 0;
  constructor(
    readonly name: string,
    private readonly launch: () => Promise<RunningService>,
    private readonly log: (line: string) => void,
  ) {}

  async start(): Promise<void> {
    this.current = await this.launch();
    this.watch(this.current);
  }

  private watch(service: RunningService): void {
    service.process.once('exit', (code, signal) => {
      if (this.stopping || this.current !== service) return;
      this.current = null;
      this.log(`  ${this.name} exited (${code ?? signal}); restarting`);
      void this.relaunch();
    });
  }

  private async relaunch(): Promise<void> {
    // Unlike stack/supervisor.ts, a restart that fails (e.g. Temporal is down too) is tried again.
    for (let attempt = 0; !this.stopping; attempt++) {
      await sleep(Math.min(10_000, 1_000 * 2 ** Math.min(attempt, 3)));
      if (this.stopping) return;
      try {
        const service = await this.launch();
        if (this.stopping) {
          await service.stop();
          return;
        }
        this.current = service;
        this.restarts++;
        this.watch(service);
        this.log(`  ${this.name} running again`);
        return;
      } catch (err) {
        this.log(`  ${this.name} failed to start (${(err as Error).message.split('\n')[0]}); retrying`);
      }
    }
  }

  get running(): boolean {
    return this.current !== null;
  }

  kill(): boolean {
    return this.current?.process.kill('SIGKILL') ?? false;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.current?.stop().catch(() => undefined);
    this.current = null;
  }
}

export interface SoakStack {
  stateDir: string;
  config: IbflowConfig;
  configPath: string;
  connections: SoakConnection[];
  canaries: Canary[];
  /** Files the leak scan must skip: the secret store and the simulator's users files. */
  secretFiles: string[];
  sims: Map<string, SimHandle>;
  client: () => Client;
  clickhouse: ClickHouseClient;
  restartTemporal(downMs: number): Promise<void>;
  restartClickHouse(downMs: number): Promise<void>;
  killPodWorker(pod: string): boolean;
  podWorkerRestarts(): Record<string, number>;
  /** Stops everything but keeps the state dir (the leak scan reads it afterwards). */
  stop(): Promise<void>;
}

/**
 * The embedded stack for the soak: real Temporal dev server and ClickHouse (restartable on the
 * same ports and data), one in-process simulator per pod (its control plane injects faults), the
 * control worker in this process, and one pod worker per pod as a child process (SIGKILL-able).
 */
export async function startSoakStack(opts: SoakStackOptions): Promise<SoakStack> {
  const { stateDir, log } = opts;
  mkdirSync(join(stateDir, 'logs'), { recursive: true, mode: 0o700 });
  mkdirSync(join(stateDir, 'sim'), { recursive: true, mode: 0o700 });
  const [temporalPort, uiPort, chHttp, chTcp] = [await freePort(), await freePort(), await freePort(), await freePort()];

  const connections: SoakConnection[] = [];
  for (let i = 0; i < opts.pods; i++) {
    const mode = i % 2 === 0 ? 'paper' : 'live';
    const pod = `pod-${String.fromCharCode(97 + i)}`;
    connections.push({
      id: `soak-${mode}-${i + 1}`,
      mode,
      username: `soakuser${i + 1}`,
      account: mode === 'paper' ? `DU90000${i + 1}` : `U90000${i + 1}`,
      pod,
      conid: CONIDS[i % CONIDS.length],
      gatewayPort: await freePort(),
      usersFile: join(stateDir, 'sim', `${pod}-users.json`),
    });
  }

  // Canary secrets into the 0600 secret store, and the same values to the simulator (it plays IBKR).
  const secrets = new FileSecretStore(secretFilePath(stateDir));
  const canaries: Canary[] = [];
  for (const c of connections) {
    const password = canaryPassword(String(connections.indexOf(c) + 1));
    secrets.set(`${c.id}/password`, password);
    canaries.push({ label: `password of ${c.id}`, value: password });
    let totp: string | undefined;
    if (c.mode === 'live') {
      totp = canaryActivationCode();
      secrets.set(`${c.id}/totp`, totp);
      canaries.push({ label: `activation code of ${c.id}`, value: totp });
    }
    const users = [{ username: c.username, password, mode: c.mode, ...(totp ? { totpSecret: totp } : {}), accounts: [c.account] }];
    writeFileSync(c.usersFile, JSON.stringify({ users }, null, 2), { mode: 0o600 });
  }

  const configPath = join(stateDir, 'ibflow.yaml');
  const rawConfig = {
    temporal: { address: `127.0.0.1:${temporalPort}`, namespace: 'default' },
    clickhouse: { url: `http://127.0.0.1:${chHttp}`, database: 'ibflow' },
    browser: { loginTimeoutMs: 30_000 },
    session: { keepaliveIntervalMs: 10_000, competingCooldownMs: 5_000, maxFailedLoginsPerDay: 3, maintenance: { daily: [], weekly: [] } },
    connections: connections.map((c) => simulatedConnectionConfig(c)),
  };
  writeFileSync(configPath, `# Written by the soak (soak/). Secrets are canaries in secrets.json.\n${toYaml(rawConfig)}`);
  const config = loadConfig(configPath);

  const logStreams: WriteStream[] = [];
  const fileLog = (name: string) => {
    const s = createWriteStream(join(stateDir, 'logs', name), { flags: 'a' });
    logStreams.push(s);
    return s;
  };

  log(`  starting Temporal (:${temporalPort}), ClickHouse (:${chHttp}) and bundling the workflows…`);
  const startTemporal = () => startTemporalDevServer({ port: temporalPort, uiPort, ...temporalPaths(stateDir) });
  const startClickHouse = () => startEmbeddedClickHouse({ dataDir: join(stateDir, 'clickhouse'), httpPort: chHttp, tcpPort: chTcp });
  let temporal: TemporalDevServer;
  let clickhouseServer: EmbeddedClickHouse;
  const [t, ch] = await Promise.all([startTemporal(), startClickHouse()]);
  temporal = t;
  clickhouseServer = ch;
  const clickhouse = createClient({ url: clickhouseServer.url });
  await migrate(clickhouse, { database: config.clickhouse.database });

  const sims = new Map<string, SimHandle>();
  for (const c of connections) {
    const simLog = fileLog(`sim-${c.pod}.log`);
    sims.set(
      c.pod,
      await startSimulator({
        port: c.gatewayPort,
        stateDir: join(stateDir, 'sim'),
        users: loadUsersFile(c.usersFile),
        authDelayMs: 1_000,
        depth: { framesPerSecond: opts.framesPerSecond },
        log: (msg, fields) => simLog.write(`${new Date().toISOString()} ${msg}${fields ? ` ${JSON.stringify(fields)}` : ''}\n`),
      }),
    );
  }

  // The control worker is a child process too (its logs go to a file the leak scan reads).
  const control = new KeptChild(
    'control worker',
    () =>
      startLoggedChild({
        command: process.execPath,
        args: [CLI, 'worker', 'control', '--config', configPath],
        logFile: join(stateDir, 'logs', 'worker-control.log'),
        readyWhen: /control worker polling/,
        timeoutMs: 300_000, // bundling the workflows takes a while on a loaded 2-core box
      }),
    log,
  );
  const controlReady = control.start();

  const podWorkers = new Map<string, KeptChild>();
  for (const c of connections) {
    const kept = new KeptChild(
      `pod worker ${c.pod}`,
      () =>
        startLoggedChild({
          command: process.execPath,
          args: [CLI, 'worker', 'pod', '--pod', c.pod, '--config', configPath],
          logFile: join(stateDir, 'logs', `worker-${c.pod}.log`),
          readyWhen: /pod worker polling/,
          timeoutMs: 120_000,
        }),
      log,
    );
    podWorkers.set(c.pod, kept);
  }
  await Promise.all([controlReady, ...[...podWorkers.values()].map((w) => w.start())]);

  // One client connection for the whole soak: gRPC reconnects by itself after a Temporal restart.
  const temporalClient = await connectTemporal(config);
  const client = temporalClient.client;

  return {
    stateDir,
    config,
    configPath,
    connections,
    canaries,
    secretFiles: [secretFilePath(stateDir), ...connections.map((c) => c.usersFile)],
    sims,
    client: () => client,
    clickhouse,
    async restartTemporal(downMs) {
      await temporal.stop();
      await sleep(downMs);
      temporal = await startTemporal();
    },
    async restartClickHouse(downMs) {
      await clickhouseServer.stop();
      await sleep(downMs);
      clickhouseServer = await startClickHouse();
    },
    killPodWorker(pod) {
      return podWorkers.get(pod)?.kill() ?? false;
    },
    podWorkerRestarts() {
      return Object.fromEntries([...podWorkers].map(([pod, w]) => [pod, w.restarts]));
    },
    async stop() {
      await Promise.allSettled([...podWorkers.values()].map((w) => w.stop()));
      await control.stop();
      await temporalClient.close();
      await Promise.allSettled([...sims.values()].map((s) => s.close()));
      await clickhouse.close().catch(() => undefined);
      await Promise.allSettled([clickhouseServer.stop(), temporal.stop()]);
      await Promise.all(logStreams.map((s) => new Promise<void>((r) => s.end(r))));
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
