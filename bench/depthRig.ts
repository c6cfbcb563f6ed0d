/**
 * The depth benchmark's rig: the real `streamDepth` activity run through MockActivityEnvironment
 * against a simulator in this process and a private ClickHouse (real sink with disk spill). No
 * Temporal server: the activity's workflow signals are dropped. Test code has its own harness
 * (test/activities/streamHarness.ts); benchmarks import no test code.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createStreamDepth } from '../activities/streamDepth';
import type { PodDependencies } from '../activities/podDependencies';
import { startSimulator, type SimulatorOptions, type SimUser } from '../sim';
import { simControl } from '../sim/controlClient';
import { DepthSink, type BatchInsertedInfo } from '../src/clickhouse/depthSink';
import { migrate } from '../src/clickhouse/migrations';
import type { DepthSettings, IbflowConfig } from '../src/config/schema';
import type { DepthInstrument } from '../src/contract/depthTypes';
import { GatewayClient } from '../src/gateway/gatewayClient';
import { createLogger } from '../src/logging/logger';
import { freePort } from '../src/util/freePort';
import { waitFor } from '../src/util/waitFor';
import { startEmbeddedClickHouse } from '../stack/embeddedClickHouse';

const USER: SimUser = { username: 'benchuser', password: 'bench-pw', mode: 'paper', accounts: ['DU555555'] };
const CONNECTION = 'bench-1';
const POD = 'pod-bench';

export interface Harness {
  database: string;
  sink: DepthSink;
  inserted: BatchInsertedInfo[];
  /** Starts the activity; stop() cancels it and waits until it has ended. */
  start(instruments: DepthInstrument[]): { stop(): Promise<void> };
  simStats(): Promise<Record<string, { frames: number }>>;
  query<T>(sql: string): Promise<T[]>;
  cleanup(): Promise<void>;
}

export async function startHarness(opts: { sim?: Partial<SimulatorOptions>; depth?: Partial<DepthSettings> } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'ibflow-bench-depth-'));
  const server = await startEmbeddedClickHouse({ dataDir: join(dir, 'clickhouse'), httpPort: await freePort(), tcpPort: await freePort() });
  const client = createClient({ url: server.url, log: { level: ClickHouseLogLevel.OFF } });
  const database = 'ibflow_bench';
  await migrate(client, { database });
  const sim = await startSimulator({ port: 0, stateDir: join(dir, 'sim'), users: [USER], authDelayMs: 50, dailyReset: null, ...opts.sim });
  await login(sim.url, USER);
  const gateway = new GatewayClient({ baseUrl: sim.url, verifyTls: false });
  await waitFor('a brokerage session', async () => (await gateway.tickle()).authStatus.authenticated, 10_000, 25);

  const log = createLogger('bench', { write: () => undefined } as never);
  const inserted: BatchInsertedInfo[] = [];
  const sink = new DepthSink({
    client,
    database,
    maxDelayMs: 50,
    maxRows: 20_000,
    retry: { initialMs: 50, maxMs: 400 },
    spill: { dir: join(dir, 'spill'), maxBytes: 256 * 1024 * 1024 },
    onBatchInserted: (i) => inserted.push(i),
    log,
  });
  const connection = { id: CONNECTION, mode: 'paper', username: USER.username, passwordRef: 'file:x', pod: POD, gateway: { url: sim.url, verifyTls: false }, instruments: [], account: USER.accounts[0] };
  const config = { stateDir: dir, depth: { staleAfterMs: 60_000, ...opts.depth }, connections: [connection] } as unknown as IbflowConfig;
  const deps: PodDependencies = {
    pod: POD,
    config: () => config,
    connection: () => connection as never,
    gateway: () => gateway,
    secrets: null as never,
    log,
    temporal: { workflow: { getHandle: () => ({ signal: async () => undefined }) } } as never,
    sink,
  };

  return {
    database,
    sink,
    inserted,
    start(instruments) {
      const env = new MockActivityEnvironment({ workflowExecution: { workflowId: `ibkr-depth:${CONNECTION}`, runId: 'r1' } });
      const done = env.run(createStreamDepth(deps), CONNECTION, { sessionWorkflowId: `ibkr-session:${USER.username}`, instruments }).catch(() => undefined);
      return {
        async stop() {
          env.cancel();
          await done;
        },
      };
    },
    async simStats() {
      return (await simControl<{ subscriptions: Record<string, { frames: number }> }>(sim, 'GET', '/sim/control/stats')).subscriptions;
    },
    async query<T>(sql: string) {
      return (await client.query({ query: sql, format: 'JSONEachRow' })).json<T>();
    },
    async cleanup() {
      await sink.close().catch(() => undefined);
      gateway.close();
      await sim.close();
      await client.close().catch(() => undefined);
      await server.stop();
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
