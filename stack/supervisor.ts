import type { ChildProcess } from 'node:child_process';

export interface RunningService {
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface ServiceSpec {
  name: string;
  /** Starts the service and resolves once it is ready to use. */
  start(): Promise<RunningService>;
}

export type SupervisorEvent =
  | { kind: 'starting' | 'ready' | 'stopping' | 'stopped'; name: string; ms?: number }
  | { kind: 'crashed'; name: string; code: number | null; signal: string | null; restartInMs: number }
  | { kind: 'restart_failed'; name: string; error: string };

/**
 * Starts services in order, restarts any that exits on its own (capped exponential backoff), and
 * stops them in reverse order. What `ibflow up` uses for every child process.
 */
export class Supervisor {
  private readonly running = new Map<string, RunningService>();
  private readonly order: ServiceSpec[] = [];
  private stopping = false;

  constructor(private readonly onEvent: (event: SupervisorEvent) => void) {}

  async start(spec: ServiceSpec): Promise<void> {
    this.order.push(spec);
    await this.launch(spec, 0);
  }

  private async launch(spec: ServiceSpec, restarts: number): Promise<void> {
    const began = Date.now();
    this.onEvent({ kind: 'starting', name: spec.name });
    const service = await spec.start();
    this.running.set(spec.name, service);
    this.onEvent({ kind: 'ready', name: spec.name, ms: Date.now() - began });
    service.process.once('exit', (code, signal) => {
      if (this.stopping || this.running.get(spec.name) !== service) return;
      this.running.delete(spec.name);
      const restartInMs = Math.min(30_000, 1_000 * 2 ** Math.min(restarts, 5));
      this.onEvent({ kind: 'crashed', name: spec.name, code, signal, restartInMs });
      const healthyFor = Date.now() - began;
      this.scheduleRestart(spec, healthyFor > 60_000 ? 0 : restarts + 1, restartInMs);
    });
  }

  /** Restarts until it works (a dependency may still be down); never gives a service up. */
  private scheduleRestart(spec: ServiceSpec, restarts: number, inMs: number): void {
    setTimeout(() => {
      if (this.stopping) return;
      this.launch(spec, restarts).catch((err: Error) => {
        const nextInMs = Math.min(30_000, 1_000 * 2 ** Math.min(restarts + 1, 5));
        this.onEvent({ kind: 'restart_failed', name: spec.name, error: `${err.message}; trying again in ${nextInMs / 1000} s` });
        this.scheduleRestart(spec, restarts + 1, nextInMs);
      });
    }, inMs).unref();
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
