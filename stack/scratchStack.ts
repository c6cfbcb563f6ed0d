import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IbflowConfig } from '../src/config/schema';
import { freePort } from '../src/util/freePort';
import { freeStackPorts } from './freeStackPorts';
import { startStack, type Stack } from './startStack';

export type ScratchStack = Stack;

export interface ScratchStackOptions {
  /** Config edits applied after the demo config is written (e.g. a shorter keepalive). */
  editConfig?: (config: IbflowConfig) => IbflowConfig;
  authDelayMs?: number;
}

/**
 * Everything a user would run, isolated for a test or a benchmark: the demo config in a temp state
 * dir, Temporal and ClickHouse on free ports, simulators and workers in this process, nothing
 * restarted behind the caller's back. stop() removes the state dir.
 */
export async function startScratchStack(opts: ScratchStackOptions = {}): Promise<ScratchStack> {
  // Ports are picked free, then bound a moment later by their servers: another process on the
  // machine (a parallel test) can take one in between. That costs a fresh attempt, not a failure.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startScratchStackOnce(opts);
    } catch (err) {
      if (attempt >= 3 || !/EADDRINUSE|address already in use/i.test(String((err as Error)?.message ?? err))) throw err;
    }
  }
}

async function startScratchStackOnce(opts: ScratchStackOptions): Promise<ScratchStack> {
  const stateDir = mkdtempSync(join(tmpdir(), 'ibflow-test-'));
  try {
    const [ports, gw1, gw2, app1, app2] = await Promise.all([freeStackPorts(), freePort(), freePort(), freePort(), freePort()]);
    const stack = await startStack({
      stateDir,
      ports,
      config: { kind: 'demo', gatewayPortBase: gw1, gatewayPorts: [gw1, gw2], appPorts: [app1, app2], editConfig: opts.editConfig },
      workers: 'in-process',
      simulators: 'in-process',
      simulator: { authDelayMs: opts.authDelayMs ?? 3000 },
      restart: { services: 'none' },
    });
    const stop = stack.stop;
    stack.stop = async () => {
      await stop();
      rmSync(stateDir, { recursive: true, force: true });
    };
    return stack;
  } catch (err) {
    rmSync(stateDir, { recursive: true, force: true });
    throw err;
  }
}
