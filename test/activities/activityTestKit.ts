/**
 * Helpers for running pod activities directly in Temporal's MockActivityEnvironment against the
 * in-process simulator over real HTTPS: no Temporal server, no child process (unit tier).
 */
import { Writable } from 'node:stream';
// MockActivityEnvironment runs the real activity Context from `@temporalio/worker/lib/activity`;
// from the worker package's index (bundler, native bridge: seconds to load in every test file) it
// takes only a fallback logger, unused here because every environment below gets its own.
jest.mock('@temporalio/worker', () => ({
  DefaultLogger: class {
    constructor() {
      throw new Error('activityTestKit: pass a logger to MockActivityEnvironment');
    }
  },
}));
import { MockActivityEnvironment } from '@temporalio/testing';
import type { PodDependencies } from '../../activities/podDependencies';
import { GatewayClient } from '../../src/gateway/gatewayClient';
import { GatewayPacer } from '../../src/gateway/gatewayPacer';
import { PenaltyBox, type PenaltyBoxOptions } from '../../src/gateway/penaltyBox';
import { createLogger } from '../../src/logging/logger';
import { http, type TestSim } from '../sim/simTestKit';

/** What a failed activity threw: an ApplicationFailure's fields, loosely typed for assertions. */
export type ActivityFailure = Error & { type?: string; nonRetryable?: boolean; details?: unknown[]; nextRetryDelay?: unknown };

/**
 * A real gateway client for the simulator. Pacing has its own tests; here it would only make the
 * tests wait (the simulator's own pacing is off in the test kit too).
 */
export function simGateway(sim: { url: string }, penalty?: PenaltyBoxOptions): GatewayClient {
  return new GatewayClient({
    baseUrl: sim.url,
    verifyTls: false,
    timeoutMs: 3_000,
    pacer: new GatewayPacer({ globalPerSecond: 10_000, rules: [] }),
    penalty: new PenaltyBox(penalty),
  });
}

/** A signal an activity sent to a workflow through `deps.temporal`. */
export interface SentSignal {
  workflowId: string;
  name: string;
  args: unknown[];
}

/**
 * Pod dependencies whose `gateway()` is the given client; what the tested activity does not use
 * stays out. Signals to workflows are recorded in `signals`.
 */
export function podDeps(gateway: GatewayClient, logged: string[] = [], signals: SentSignal[] = []): PodDependencies {
  const temporal = {
    workflow: {
      getHandle: (workflowId: string) => ({
        signal: async (def: { name: string }, ...args: unknown[]) => void signals.push({ workflowId, name: def.name, args }),
      }),
    },
  };
  return {
    pod: 'pod-a',
    gateway: () => gateway,
    temporal,
    log: createLogger('test', new Writable({ write: (chunk: Buffer, _e, cb) => (logged.push(chunk.toString()), cb()) })),
  } as unknown as PodDependencies;
}

/** A mock activity environment that records every heartbeat's details and the SDK's log lines. */
export function recordingEnvironment(): { env: MockActivityEnvironment; heartbeats: unknown[]; sdkLog: string[] } {
  const sdkLog: string[] = [];
  const record = (level: string) => (message: string, meta?: Record<string, unknown>) => {
    sdkLog.push(`${level} ${message} ${JSON.stringify(meta ?? {}, (_k, v: unknown) => (v instanceof Error ? `${v.name}: ${v.message}` : v))}`);
  };
  const logger = {
    log: (level: string, message: string, meta?: Record<string, unknown>) => record(level)(message, meta),
    trace: record('TRACE'),
    debug: record('DEBUG'),
    info: record('INFO'),
    warn: record('WARN'),
    error: record('ERROR'),
  };
  const env = new MockActivityEnvironment(undefined, { logger });
  const heartbeats: unknown[] = [];
  env.on('heartbeat', (details: unknown) => heartbeats.push(details));
  return { env, heartbeats, sdkLog };
}

/** Runs an activity function in the environment, keeping its own argument and result types. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function runIn<A extends (...args: any[]) => Promise<unknown>>(env: MockActivityEnvironment, activity: A, ...args: Parameters<A>): ReturnType<A> {
  return env.run(activity, ...args) as ReturnType<A>;
}

/** Settles a promise into its rejection; fails the test when it resolves or is still running after `withinMs`. */
export async function failureOf(promise: Promise<unknown>, withinMs = 5_000): Promise<ActivityFailure> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`expected the activity to fail within ${withinMs} ms; it is still running`)), withinMs);
  });
  const settled = promise.then(
    (value) => {
      throw new Error(`expected the activity to fail, it returned ${JSON.stringify(value)}`);
    },
    (err: unknown) => err as ActivityFailure,
  );
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Control-plane calls the activity tests use. */
export const control = {
  drop: (sim: TestSim, username: string, kind: 'bridge' | 'expire' | 'competing' | 'logout') =>
    http(sim.controlUrl, 'POST', '/sim/control/drop', { body: { username, kind } }),
  compete: (sim: TestSim, username: string) => http(sim.controlUrl, 'POST', '/sim/control/compete', { body: { username } }),
  fault: (sim: TestSim, fault: { path: string; status?: number; latencyMs?: number; count?: number }) =>
    http(sim.controlUrl, 'POST', '/sim/control/faults', { body: fault }),
  clearFaults: (sim: TestSim) => http(sim.controlUrl, 'DELETE', '/sim/control/faults'),
};
