import type { IbflowConfig } from '../src/config/schema';
import { UP_RESTART_POLICY, type RestartPolicy } from './restartPolicy';
import type { SupervisorEvent } from './supervisor';

export interface StackPorts {
  temporal: number;
  temporalUi: number;
  clickhouseHttp: number;
  clickhouseTcp: number;
}

/** One simulated pod: its gateway's port and the simulator's users file. */
export interface StackPod {
  pod: string;
  gatewayPort: number;
  /** The pod's app port (docs/app-port.md), when the config gives it one. */
  appPort?: number | false;
  usersFile: string;
}

export type StackConfigSource =
  /** The two demo connections (stack/demoSetup.ts), written into the state dir; editConfig changes the loaded config in memory. */
  | { kind: 'demo'; gatewayPortBase: number; gatewayPorts?: number[]; appPorts?: number[]; editConfig?: (config: IbflowConfig) => IbflowConfig }
  /** A config the caller wrote (and the simulator users files of its pods). */
  | { kind: 'written'; configPath: string; pods: StackPod[] };

export type Placement = 'child-processes' | 'in-process';
export type ServiceKind = 'temporal' | 'clickhouse' | 'simulator' | 'worker';

export interface StackOptions {
  stateDir: string;
  ports: StackPorts;
  config: StackConfigSource;
  /** Where the control worker and the pod workers run. Child processes can be killed (killPodWorker). */
  workers: Placement;
  /** Where the simulated gateways run. In-process simulators are returned (`sims`) for fault control. */
  simulators: Placement;
  simulator?: { authDelayMs?: number; framesPerSecond?: number };
  /** Which services are restarted when they exit on their own, and how. In-process services never exit on their own. */
  restart?: { services: 'all' | 'workers' | 'none'; policy?: RestartPolicy };
  readyTimeoutMs?: { controlWorker?: number; podWorker?: number };
  /** One line per service start, crash, restart and stop (and the schema migration). */
  progress?: (line: string) => void;
  /** The same, as events. */
  onEvent?: (event: SupervisorEvent) => void;
}

export interface ResolvedStackOptions {
  stateDir: string;
  ports: StackPorts;
  config: StackConfigSource;
  workers: Placement;
  simulators: Placement;
  simulator: { authDelayMs: number; framesPerSecond: number | null };
  restart: { services: 'all' | 'workers' | 'none'; policy: RestartPolicy };
  readyTimeoutMs: { controlWorker: number; podWorker: number };
  progress: (line: string) => void;
  onEvent: (event: SupervisorEvent) => void;
}

/** Fills in the defaults and refuses combinations that cannot work. */
export function resolveStackOptions(opts: StackOptions): ResolvedStackOptions {
  if (opts.config.kind === 'demo' && opts.config.editConfig && opts.workers === 'child-processes') {
    throw new Error('editConfig changes the config in memory, which worker child processes never see: write the config instead');
  }
  if (opts.config.kind === 'written' && opts.config.pods.length === 0) throw new Error('a written config needs at least one pod');
  const framesPerSecond = opts.simulator?.framesPerSecond ?? null;
  if (framesPerSecond !== null && opts.simulators === 'child-processes') {
    throw new Error('simulator.framesPerSecond needs in-process simulators (the sim command takes it from a rules file)');
  }
  return {
    stateDir: opts.stateDir,
    ports: opts.ports,
    config: opts.config,
    workers: opts.workers,
    simulators: opts.simulators,
    simulator: { authDelayMs: opts.simulator?.authDelayMs ?? 3000, framesPerSecond },
    restart: { services: opts.restart?.services ?? 'all', policy: opts.restart?.policy ?? UP_RESTART_POLICY },
    // Bundling the workflows takes a while on a 2-core box.
    readyTimeoutMs: { controlWorker: opts.readyTimeoutMs?.controlWorker ?? 180_000, podWorker: opts.readyTimeoutMs?.podWorker ?? 60_000 },
    progress: opts.progress ?? (() => undefined),
    onEvent: opts.onEvent ?? (() => undefined),
  };
}

/** Whether a service of this kind is restarted when it exits on its own. */
export function restartsOnExit(opts: Pick<ResolvedStackOptions, 'restart'>, kind: ServiceKind): boolean {
  if (opts.restart.services === 'all') return true;
  return opts.restart.services === 'workers' && kind === 'worker';
}
