/**
 * A rig for the depth stream without Temporal: the real `streamDepth` activity run through
 * `@temporalio/testing`'s MockActivityEnvironment against a simulator in this process and a
 * private ClickHouse (migrated, with the real sink and disk spill). The activity's workflow
 * signals go to `onSignal` (dropped without one). Used by the depth benchmark
 * (bench/depthEndToEnd.bench.ts) and the depth stream tests' harness (test/activities/streamHarness.ts).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SignalDefinition } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createStreamDepth, type StreamDepthStats } from '../activities/streamDepth';
import type { PodDependencies } from '../activities/podDependencies';
import { startSimulator, type SimHandle, type SimulatorOptions, type SimUser } from '../sim';
import { simControl } from '../sim/controlClient';
import { DepthSink, type BatchInsertedInfo } from '../src/clickhouse/depthSink';
import { migrate } from '../src/clickhouse/migrations';
import type { DepthSettings, IbflowConfig } from '../src/config/schema';
import type { DepthInstrument } from '../src/contract/depthTypes';
import { GatewayClient } from '../src/gateway/gatewayClient';
import { createLogger } from '../src/logging/logger';
import { waitFor } from '../src/util/waitFor';
import { startEmbeddedClickHouse } from './embeddedClickHouse';
import { startPrivateClickHouse, type PrivateClickHouse } from './privateClickHouse';

/** The rig's private ClickHouse. `server` is replaced by `restartClickHouse()`; cleanup stops whichever is current. */
export type RigClickHouse = PrivateClickHouse;

/** A simulator the rig logs in to and stops at cleanup. */
export interface RigSimulator extends SimHandle {
  stop(): Promise<void>;
}

/** One subscription as the simulator's control plane counts it (GET /sim/control/stats). */
export interface SimSubscriptionStats {
  topic: string;
  account: string;
  conid: number;
  frames: number;
  firstSeq: number;
  lastSeq: number;
  sizeSum: number;
  active: boolean;
}

export type StreamOutcome = { ok: true; stats: StreamDepthStats } | { ok: false; error: Error & { type?: string } };

export interface RunningStream {
  env: MockActivityEnvironment;
  done: Promise<StreamOutcome>;
  /** Cancels the activity and resolves with its outcome once it has ended. */
  stop(): Promise<StreamOutcome>;
}

export interface DepthStreamRigOptions<S extends RigSimulator> {
  /** The simulator user the rig logs in as (paper: password only); it must be one of the simulator's users. */
  user: SimUser;
  connectionId: string;
  pod: string;
  database: string;
  /** Options for the default simulator (ignored with `startSimulator`). */
  sim?: Partial<SimulatorOptions>;
  /** Starts the simulator instead of the default one (port 0, `user` only, authDelayMs 50, no daily reset). */
  startSimulator?: () => Promise<S>;
  depth?: Partial<DepthSettings>;
  /** Gateway URL in the connection's config (default: the simulator's). */
  gatewayUrl?: string;
  spillMaxBytes?: number;
  /** The sink's batch bounds (default: 20,000 rows, 50 ms, for quick tests; the pod worker's are depth.batchRows / batchDelayMs). */
  batch?: { maxRows?: number; maxDelayMs?: number };
  /** Where the activity and the sink log (default: nowhere). */
  log?: PodDependencies['log'];
  /** Each workflow signal the activity sends (default: dropped). Signals sent by a name string are refused. */
  onSignal?: (signal: { workflowId: string; name: string; args: unknown[] }) => void;
}

export interface DepthStreamRig<S extends RigSimulator = RigSimulator> {
  clickhouse: RigClickHouse;
  sim: S;
  database: string;
  sink: DepthSink;
  spillDir: string;
  /** The sink's quarantine: `<stateDir>/quarantine/<pod>`, with `config.stateDir` the rig's folder. */
  quarantineDir: string;
  /** The config the activity reads (stateDir, depth, the one connection). */
  config: IbflowConfig;
  inserted: BatchInsertedInfo[];
  /** The activity's dependencies; `start()` reads them then, so a test may swap e.g. the sink first. */
  deps: PodDependencies;
  start(instruments: DepthInstrument[]): RunningStream;
  /** The simulator's per-subscription counters, keyed by subscription. */
  simStats(): Promise<Record<string, SimSubscriptionStats>>;
  simControl<T = unknown>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T>;
  restartClickHouse(): Promise<void>;
  query<T>(sql: string): Promise<T[]>;
  cleanup(): Promise<void>;
}

export async function startDepthStreamRig<S extends RigSimulator = RigSimulator>(opts: DepthStreamRigOptions<S>): Promise<DepthStreamRig<S>> {
  const dir = mkdtempSync(join(tmpdir(), 'ibflow-depth-rig-'));
  const clickhouse = await startPrivateClickHouse(join(dir, 'clickhouse'));
  await migrate(clickhouse.client, { database: opts.database });
  const defaultSimulator = async (): Promise<RigSimulator> => {
    const handle = await startSimulator({ port: 0, stateDir: join(dir, 'sim'), users: [opts.user], authDelayMs: 50, dailyReset: null, ...opts.sim });
    return { ...handle, stop: () => handle.close() };
  };
  const sim = await (opts.startSimulator ?? (defaultSimulator as () => Promise<S>))();
  await login(sim.url, opts.user);
  const gateway = new GatewayClient({ baseUrl: sim.url, verifyTls: false });
  await waitFor('a brokerage session', async () => (await gateway.tickle()).authStatus.authenticated, 10_000, 25);

  const log = opts.log ?? createLogger('depth-rig', { write: () => undefined } as never);
  const spillDir = join(dir, 'spill');
  mkdirSync(spillDir);
  const inserted: BatchInsertedInfo[] = [];
  const quarantineDir = join(dir, 'quarantine', opts.pod);
  const sink = new DepthSink({
    client: clickhouse.client,
    database: opts.database,
    maxDelayMs: opts.batch?.maxDelayMs ?? 50,
    maxRows: opts.batch?.maxRows ?? 20_000,
    retry: { initialMs: 50, maxMs: 400 },
    spill: { dir: spillDir, maxBytes: opts.spillMaxBytes ?? 256 * 1024 * 1024 },
    // Where the pod worker keeps it too (<stateDir>/quarantine/<pod>), so the operations layer finds it.
    quarantine: { dir: quarantineDir, pod: opts.pod },
    onBatchInserted: (i) => inserted.push(i),
    log,
  });
  const connection = {
    id: opts.connectionId,
    mode: 'paper',
    username: opts.user.username,
    passwordRef: 'file:x',
    pod: opts.pod,
    gateway: { url: opts.gatewayUrl ?? sim.url, verifyTls: false },
    instruments: [] as DepthInstrument[],
    account: opts.user.accounts[0],
  };
  const config = { stateDir: dir, depth: { staleAfterMs: 60_000, ...opts.depth }, connections: [connection] } as unknown as IbflowConfig;
  const deps: PodDependencies = {
    pod: opts.pod,
    config: () => config,
    connection: () => connection as never,
    gateway: () => gateway,
    secrets: null as never,
    log,
    temporal: {
      workflow: {
        getHandle: (workflowId: string) => ({
          // Signals go by their definitions (workflows/*Messages.ts), never by a name string.
          signal: async (definition: SignalDefinition | string, ...args: unknown[]) => {
            if (typeof definition === 'string') throw new Error(`signal ${definition} sent by name string, not by its definition`);
            opts.onSignal?.({ workflowId, name: definition.name, args });
          },
        }),
      },
    } as never,
    sink,
  };

  return {
    clickhouse,
    sim,
    database: opts.database,
    sink,
    spillDir,
    quarantineDir,
    config,
    inserted,
    deps,
    start(instruments) {
      const env = new MockActivityEnvironment({ workflowExecution: { workflowId: `ibkr-depth:${opts.connectionId}`, runId: 'r1' } });
      const done = env
        .run(createStreamDepth(deps), opts.connectionId, { sessionWorkflowId: `ibkr-session:${opts.user.username}`, instruments })
        .then((stats) => ({ ok: true as const, stats: stats as StreamDepthStats }))
        .catch((error: Error & { type?: string }) => ({ ok: false as const, error }));
      return {
        env,
        done,
        async stop() {
          env.cancel();
          return done;
        },
      };
    },
    async simStats() {
      return (await simControl<{ subscriptions: Record<string, SimSubscriptionStats> }>(sim, 'GET', '/sim/control/stats')).subscriptions;
    },
    simControl: (method, path, body) => simControl(sim, method, path, body),
    async restartClickHouse() {
      clickhouse.server = await startEmbeddedClickHouse({ dataDir: clickhouse.dataDir, httpPort: clickhouse.httpPort, tcpPort: clickhouse.tcpPort });
    },
    async query<T>(sql: string) {
      return (await clickhouse.client.query({ query: sql, format: 'JSONEachRow' })).json<T>();
    },
    async cleanup() {
      await sink.close().catch(() => undefined);
      gateway.close();
      await sim.stop();
      await clickhouse.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The simulator's SSO login as the login page would post it (paper: password only). */
async function login(baseUrl: string, user: SimUser): Promise<void> {
  const first = JSON.parse(await post(baseUrl, '/sso/Authenticator', 'application/json', JSON.stringify({ username: user.username, password: user.password, paper: true }))) as { status: string; tx?: string };
  if (first.status !== 'ok') throw new Error(`simulator login failed: ${first.status}`);
  await post(baseUrl, '/sso/Dispatcher', 'application/x-www-form-urlencoded', new URLSearchParams({ tx: first.tx ?? '' }).toString());
}

function post(baseUrl: string, path: string, contentType: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, baseUrl), { method: 'POST', rejectUnauthorized: false, headers: { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    req.on('error', reject);
    req.end(body);
  });
}
