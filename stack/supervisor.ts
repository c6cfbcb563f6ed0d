import type { ChildProcess } from 'node:child_process';
import { restartDelayMs, restartsInARow, UP_RESTART_POLICY, type RestartPolicy } from './restartPolicy';

export interface RunningService {
  /** A child process is watched: when it exits on its own the service is restarted. In-process services have none. */
  process?: Pick<ChildProcess, 'once' | 'kill'>;
  stop(): Promise<void>;
}

export interface ServiceSpec {
  name: string;
  /** Starts the service and resolves once it is ready to use. */
  start(): Promise<RunningService>;
  /** Restart it when it exits on its own (default true). */
  restartOnExit?: boolean;
}

export type SupervisorEvent =
  | { kind: 'starting' | 'ready' | 'stopping' | 'stopped'; name: string; ms?: number }
  | { kind: 'crashed'; name: string; code: number | null; signal: string | null; restartInMs: number | null }
  | { kind: 'restart_failed'; name: string; error: string }
  | { kind: 'gave_up'; name: string; error: string };

/**
 * Starts services in order, restarts any that exits on its own (by the restart policy), stops one
 * on purpose and starts it again (fault drills), and stops them all in reverse order.
 */
export class Supervisor {
  private readonly running = new Map<string, RunningService>();
  private readonly order: ServiceSpec[] = [];
  /** Services stopped on purpose: not restarted until startService. */
  private readonly held = new Set<string>();
  private readonly restarts = new Map<string, number>();
  private stopping = false;

  constructor(
    private readonly onEvent: (event: SupervisorEvent) => void,
    private readonly policy: RestartPolicy = UP_RESTART_POLICY,
  ) {}

  async start(spec: ServiceSpec): Promise<void> {
    this.order.push(spec);
    await this.launch(spec, 0);
  }

  private async launch(spec: ServiceSpec, inARow: number): Promise<boolean> {
    const began = Date.now();
    this.onEvent({ kind: 'starting', name: spec.name });
    const service = await spec.start();
    if (this.stopping || this.held.has(spec.name)) {
      // Stopped while it was starting: do not leave it running behind our back.
      await service.stop().catch(() => undefined);
      return false;
    }
    this.running.set(spec.name, service);
    this.onEvent({ kind: 'ready', name: spec.name, ms: Date.now() - began });
    service.process?.once('exit', (code, signal) => {
      if (this.stopping || this.running.get(spec.name) !== service) return;
      this.running.delete(spec.name);
      const restart = spec.restartOnExit ?? true;
      const sofar = restartsInARow(this.policy, inARow, Date.now() - began);
      const restartInMs = restart ? restartDelayMs(this.policy, sofar) : null;
      this.onEvent({ kind: 'crashed', name: spec.name, code, signal, restartInMs });
      if (restartInMs !== null) this.scheduleRestart(spec, sofar + 1, restartInMs);
    });
    return true;
  }

  /** Restarts after inMs; a failed restart is tried again or the service given up, by the policy. */
  private scheduleRestart(spec: ServiceSpec, inARow: number, inMs: number): void {
    setTimeout(() => {
      if (this.stopping || this.held.has(spec.name)) return;
      this.launch(spec, inARow).then(
        (started) => {
          if (started) this.restarts.set(spec.name, this.restartCount(spec.name) + 1);
        },
        (err: Error) => {
          const message = err.message.split('\n')[0];
          if (this.policy.whenRestartFails === 'give-up') {
            this.onEvent({ kind: 'gave_up', name: spec.name, error: message });
            return;
          }
          const nextInMs = restartDelayMs(this.policy, inARow);
          this.onEvent({ kind: 'restart_failed', name: spec.name, error: `${message}; trying again in ${nextInMs / 1000} s` });
          this.scheduleRestart(spec, inARow + 1, nextInMs);
        },
      );
    }, inMs).unref();
  }

  /** How often the service was restarted after exiting on its own. */
  restartCount(name: string): number {
    return this.restarts.get(name) ?? 0;
  }

  isRunning(name: string): boolean {
    return this.running.has(name);
  }

  /** Kills the service's process as a crash would (it is restarted by the policy); false if there is none. */
  kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): boolean {
    return this.running.get(name)?.process?.kill(signal) ?? false;
  }

  /** Stops one service on purpose; it stays down until startService. */
  async stopService(name: string): Promise<void> {
    this.held.add(name);
    const service = this.running.get(name);
    this.running.delete(name);
    if (!service) return;
    this.onEvent({ kind: 'stopping', name });
    await service.stop();
    this.onEvent({ kind: 'stopped', name });
  }

  /** Starts a service stopped by stopService (or given up) again; rejects if it does not start. */
  async startService(name: string): Promise<void> {
    const spec = this.order.find((s) => s.name === name);
    if (!spec) throw new Error(`no service named ${name}`);
    if (this.running.has(name)) return;
    this.held.delete(name);
    await this.launch(spec, 0);
  }

  /** From now on an exiting child is not restarted (call first thing on Ctrl-C). */
  beginStop(): void {
    this.stopping = true;
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    for (const spec of [...this.order].reverse()) {
      const service = this.running.get(spec.name);
      if (!service) continue;
      this.onEvent({ kind: 'stopping', name: spec.name });
      await service.stop().catch(() => undefined);
      this.running.delete(spec.name);
      this.onEvent({ kind: 'stopped', name: spec.name });
    }
  }
}
