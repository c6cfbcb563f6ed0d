import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Client } from '@temporalio/client';
import { stringify as toYaml } from 'yaml';
import type { SimHandle } from '../sim';
import { setSimPacing } from '../sim/controlClient';
import type { IbflowConfig } from '../src/config/schema';
import { FileSecretStore } from '../src/secrets/fileSecretStore';
import { secretFilePath } from '../src/secrets/secretResolver';
import { freePort } from '../src/util/freePort';
import { simulatedConnectionConfig } from '../stack/demoSetup';
import { describeSupervisorEvent } from '../stack/describeSupervisorEvent';
import { freeStackPorts } from '../stack/freeStackPorts';
import type { RestartPolicy } from '../stack/restartPolicy';
import { startStack } from '../stack/startStack';
import { canaryActivationCode, canaryPassword, type Canary } from './canary';

/** Instruments of the simulator's built-in list; one ladder per account (activities/streamDepth.ts). */
const CONIDS = [265598, 8314, 272093, 76792991, 756733, 4391];

/**
 * IBKR's penalty box lasts 15 minutes; in the soak both the simulators' box and ibflow's assumption
 * (`session.penaltyBoxMs`, used for a 429 without Retry-After) are 60 s, so a box a noisy co-tenant
 * earns is seen to end by itself within a fault.
 */
export const SOAK_PENALTY_BOX_MS = 60_000;

export interface SoakConnection {
  id: string;
  mode: 'paper' | 'live';
  username: string;
  account: string;
  pod: string;
  conid: number;
  gatewayPort: number;
  /** The pod's pacing-safe port for the user's own programs (the noisy co-tenant uses it too). */
  appPort: number;
  usersFile: string;
}

export interface SoakStackOptions {
  stateDir: string;
  pods: number;
  /** Depth frames per second per subscription. */
  framesPerSecond: number;
  log: (line: string) => void;
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

/** Pod workers (and the control worker) come back after a SIGKILL within a second, as a crashed one would; a failed restart is tried again forever. */
const SOAK_RESTART_POLICY: RestartPolicy = { whenRestartFails: 'retry-forever', initialMs: 1_000, maxMs: 8_000, healthyAfterMs: 0 };

/**
 * The embedded stack for the soak (stack/startStack.ts): its own config with canary secrets, real
 * Temporal dev server and ClickHouse (restartable on the same ports and data, never restarted
 * behind the soak's back), one in-process simulator per pod (its control plane injects faults),
 * and the control worker and one pod worker per pod as child processes (SIGKILL-able, restarted
 * whenever they exit; their logs go to files the leak scan reads).
 */
export async function startSoakStack(opts: SoakStackOptions): Promise<SoakStack> {
  const { stateDir, log } = opts;
  mkdirSync(join(stateDir, 'logs'), { recursive: true, mode: 0o700 });
  mkdirSync(join(stateDir, 'sim'), { recursive: true, mode: 0o700 });
  const ports = await freeStackPorts();

  const connections: SoakConnection[] = [];
  const taken = new Set<number>();
  // Two asks in a row may get the same port back; every gateway and app port must differ.
  const distinctPort = async (): Promise<number> => {
    for (;;) {
      const p = await freePort();
      if (taken.has(p)) continue;
      taken.add(p);
      return p;
    }
  };
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
      gatewayPort: await distinctPort(),
      appPort: await distinctPort(),
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
    temporal: { address: `127.0.0.1:${ports.temporal}`, namespace: 'default' },
    clickhouse: { url: `http://127.0.0.1:${ports.clickhouseHttp}`, database: 'ibflow' },
    browser: { loginTimeoutMs: 30_000 },
    session: { keepaliveIntervalMs: 10_000, competingCooldownMs: 5_000, maxFailedLoginsPerDay: 3, penaltyBoxMs: SOAK_PENALTY_BOX_MS, maintenance: { daily: [], weekly: [] } },
    connections: connections.map((c) => simulatedConnectionConfig(c)),
  };
  writeFileSync(configPath, `# Written by the soak (soak/). Secrets are canaries in secrets.json.\n${toYaml(rawConfig)}`);

  let started = false;
  log(`  starting Temporal (:${ports.temporal}), ClickHouse (:${ports.clickhouseHttp}), the simulators and the workers…`);
  const stack = await startStack({
    stateDir,
    ports,
    config: { kind: 'written', configPath, pods: connections.map(({ pod, gatewayPort, usersFile }) => ({ pod, gatewayPort, usersFile })) },
    workers: 'child-processes',
    simulators: 'in-process',
    simulator: { authDelayMs: 1_000, framesPerSecond: opts.framesPerSecond },
    restart: { services: 'workers', policy: SOAK_RESTART_POLICY },
    readyTimeoutMs: { controlWorker: 300_000, podWorker: 120_000 }, // a loaded 2-core box
    onEvent: (event) => {
      // The soak's output tells of crashes and the way back, not of every start and stop.
      if (!started) return;
      if (event.kind === 'crashed' || event.kind === 'restart_failed' || event.kind === 'gave_up') log(describeSupervisorEvent(event));
      else if (event.kind === 'ready') log(`  ${event.name} running again`);
    },
  });
  started = true;
  // Before any workflow runs: the simulators' box as short as ibflow expects it (the pacing mode stays lenient).
  for (const sim of stack.sims.values()) await setSimPacing(sim, { penaltyMs: SOAK_PENALTY_BOX_MS });

  return {
    stateDir,
    config: stack.config,
    configPath,
    connections,
    canaries,
    secretFiles: [secretFilePath(stateDir), ...connections.map((c) => c.usersFile)],
    sims: stack.sims,
    client: () => stack.client,
    clickhouse: stack.clickhouse,
    restartTemporal: (downMs) => stack.restartTemporal(downMs),
    restartClickHouse: (downMs) => stack.restartClickHouse(downMs),
    killPodWorker: (pod) => stack.killPodWorker(pod),
    podWorkerRestarts: () => stack.podWorkerRestarts(),
    stop: () => stack.stop(),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
