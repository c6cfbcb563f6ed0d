/**
 * A focused harness for the depth stream: the real `streamDepth` activity run through
 * `@temporalio/testing`'s MockActivityEnvironment against a real simulator and a real ClickHouse
 * (with the real sink and disk spill). No Temporal server: workflow signals are recorded.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { SignalDefinition } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createStreamDepth, type StreamDepthStats } from '../../activities/streamDepth';
import type { PodDependencies } from '../../activities/podDependencies';
import { startEmbeddedClickHouse } from '../../stack/embeddedClickHouse';
import type { SimulatorOptions } from '../../sim';
import { DepthSink, type BatchInsertedInfo } from '../../src/clickhouse/depthSink';
import { migrate } from '../../src/clickhouse/migrations';
import type { DepthSettings, IbflowConfig } from '../../src/config/schema';
import { GatewayClient } from '../../src/gateway/gatewayClient';
import { createLogger } from '../../src/logging/logger';
import { queryRows, startTestClickHouse, uniqueDatabase, type TestClickHouse } from '../support/clickhouseServer';
import { eventually, loginViaHttp, PAPER_USER, startTestSim, type TestSim } from '../sim/simTestKit';
import type { DepthInstrument } from '../../src/contract/depthTypes';

export const ACCOUNT = PAPER_USER.accounts[0]!;
export const CONNECTION = 'harness-1';
export const POD = 'pod-h';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

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

export interface Harness {
  ch: TestClickHouse;
  sim: TestSim;
  database: string;
  sink: DepthSink;
  spillDir: string;
  logs: LogLine[];
  signals: { workflowId: string; name: string; args: unknown[] }[];
  inserted: BatchInsertedInfo[];
  deps: PodDependencies;
  /** Starts the activity; `stop()` cancels it and resolves with its outcome. */
  start(instruments: DepthInstrument[]): RunningStream;
  simStats(): Promise<Record<string, SimSubscriptionStats>>;
  simControl(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown>;
  restartClickHouse(): Promise<void>;
  query<T>(sql: string): Promise<T[]>;
  cleanup(): Promise<void>;
}

export interface RunningStream {
  env: MockActivityEnvironment;
  done: Promise<{ ok: true; stats: StreamDepthStats } | { ok: false; error: Error & { type?: string } }>;
  stop(): Promise<{ ok: true; stats: StreamDepthStats } | { ok: false; error: Error & { type?: string } }>;
}

export interface HarnessOptions {
  sim?: Partial<SimulatorOptions>;
  depth?: Partial<DepthSettings>;
  /** Gateway URL override (a fake websocket server for malformed-frame tests). */
  gatewayUrl?: string;
  spillMaxBytes?: number;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const ch = await startTestClickHouse();
  const database = uniqueDatabase('ibflow_depth');
  await migrate(ch.client, { database });
  const sim = await startTestSim({ authDelayMs: 50, ...opts.sim });
  await loginViaHttp(sim, PAPER_USER);
  const gateway = new GatewayClient({ baseUrl: sim.url, verifyTls: false });
  await eventually(async () => (await gateway.tickle()).authStatus.authenticated, 10_000, 'brokerage session');

  const logs: LogLine[] = [];
  const log = createLogger(
    'depth-harness',
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logs.push(JSON.parse(line) as LogLine);
        cb();
      },
    }),
  );
  const spillDir = mkdtempSync(join(tmpdir(), 'ibflow-spill-'));
  const inserted: BatchInsertedInfo[] = [];
  const sink = new DepthSink({
    client: ch.client,
    database,
    maxDelayMs: 50,
    maxRows: 20_000,
    retry: { initialMs: 50, maxMs: 400 },
    spill: { dir: spillDir, maxBytes: opts.spillMaxBytes ?? 256 * 1024 * 1024 },
    onBatchInserted: (i) => inserted.push(i),
    log,
  });
  const signals: Harness['signals'] = [];
  const depth: Partial<DepthSettings> = { staleAfterMs: 60_000, ...opts.depth };
  const connection = {
    id: CONNECTION,
    mode: 'paper',
    username: PAPER_USER.username,
    passwordRef: 'file:x',
    pod: POD,
    gateway: { url: opts.gatewayUrl ?? sim.url, verifyTls: false },
    instruments: [] as DepthInstrument[],
    account: ACCOUNT,
  };
  const config = { stateDir: spillDir, depth, connections: [connection] } as unknown as IbflowConfig;
  const deps: PodDependencies = {
    pod: POD,
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
            signals.push({ workflowId, name: definition.name, args });
          },
        }),
      },
    } as never,
    sink,
  };

  const harness: Harness = {
    ch,
    sim,
    database,
    sink,
    spillDir,
    logs,
    signals,
    inserted,
    deps,
    start(instruments) {
      const env = new MockActivityEnvironment({ workflowExecution: { workflowId: 'ibkr-depth:harness-1', runId: 'r1' } });
      const done = env
        .run(createStreamDepth(deps), CONNECTION, { sessionWorkflowId: 'ibkr-session:paperuser', instruments })
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
      const stats = (await harness.simControl('GET', '/sim/control/stats')) as { subscriptions: Record<string, SimSubscriptionStats> };
      return stats.subscriptions;
    },
    async simControl(method, path, body) {
      const res = await fetch(new URL(path, sim.controlUrl), {
        method,
        headers: { 'Content-Type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : null;
    },
    async restartClickHouse() {
      ch.server = await startEmbeddedClickHouse({ dataDir: ch.dataDir, httpPort: ch.httpPort, tcpPort: ch.tcpPort });
    },
    query<T>(sql: string) {
      return queryRows<T>(ch.client, sql);
    },
    async cleanup() {
      await sink.close().catch(() => undefined);
      gateway.close();
      await sim.stop();
      await ch.cleanup();
      rmSync(spillDir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** Frames and row identities stored for a conid, counted once each (FINAL). */
export async function storedAudit(h: Harness, conid: number) {
  const [row] = await h.query<{ frames: string; rows_final: string; rows_raw: string; identities: string; size_sum: number }>(`
    SELECT
      (SELECT uniqExact(stream_id, seq) FROM ${h.database}.depth WHERE conid = ${conid} AND kind IN ('snapshot', 'update')) AS frames,
      (SELECT count() FROM ${h.database}.depth FINAL WHERE conid = ${conid}) AS rows_final,
      (SELECT count() FROM ${h.database}.depth WHERE conid = ${conid}) AS rows_raw,
      (SELECT uniqExact(stream_id, seq, kind, side, level) FROM ${h.database}.depth WHERE conid = ${conid}) AS identities,
      (SELECT sum(s) FROM (
         SELECT stream_id, seq, if(countIf(kind = 'update') > 0, sumIf(size, kind = 'update' AND side IN ('bid', 'ask')), sumIf(size, kind = 'snapshot' AND side IN ('bid', 'ask'))) AS s
         FROM ${h.database}.depth FINAL WHERE conid = ${conid} AND kind IN ('snapshot', 'update') GROUP BY stream_id, seq)) AS size_sum`);
  return { frames: Number(row!.frames), rowsFinal: Number(row!.rows_final), rowsRaw: Number(row!.rows_raw), identities: Number(row!.identities), sizeSum: Number(row!.size_sum) };
}

export function sentFor(stats: Record<string, SimSubscriptionStats>, conid: number): { frames: number; sizeSum: number; subscriptions: number } {
  let frames = 0;
  let sizeSum = 0;
  let subscriptions = 0;
  for (const s of Object.values(stats)) {
    if (s.conid !== conid) continue;
    frames += s.frames;
    sizeSum += s.sizeSum;
    subscriptions++;
  }
  return { frames, sizeSum, subscriptions };
}

export interface BookInvariantReport {
  /** Stored snapshots (stream_id, seq) with both sides, i.e. the ones checked for crossing. */
  snapshotsChecked: number;
  /** Snapshots whose best bid is not below their best ask. */
  crossed: { stream_id: string; seq: number; best_bid: number; best_ask: number }[];
  /** Frames (stream_id, seq) checked for order. */
  framesChecked: number;
  streams: number;
  /** Frames whose seq does not increase strictly with receipt time within their stream_id. */
  outOfOrder: { stream_id: string; seq: number; problem: string }[];
}

/**
 * Invariants every stored book must hold, whatever happened to the stream: no snapshot is crossed
 * (best bid < best ask), and within each stream_id every seq is one frame and seq increases
 * strictly with receipt time (periodic snapshots share their update frame's seq and receipt time).
 */
export async function storedBookInvariants(h: Harness): Promise<BookInvariantReport> {
  const snapshots = await h.query<{ stream_id: string; seq: string; best_bid: number; best_ask: number }>(`
    SELECT stream_id, seq, maxIf(price, side = 'bid') AS best_bid, minIf(price, side = 'ask') AS best_ask
    FROM ${h.database}.depth FINAL WHERE kind = 'snapshot'
    GROUP BY stream_id, seq
    HAVING countIf(side = 'bid') > 0 AND countIf(side = 'ask') > 0`);
  const crossed = snapshots.filter((s) => !(s.best_bid < s.best_ask)).map((s) => ({ ...s, seq: Number(s.seq) }));
  const frames = await h.query<{ stream_id: string; seq: string; first_ns: string; last_ns: string }>(`
    SELECT stream_id, seq, toString(min(received_ns)) AS first_ns, toString(max(received_ns)) AS last_ns
    FROM ${h.database}.depth FINAL WHERE kind IN ('snapshot', 'update')
    GROUP BY stream_id, seq ORDER BY stream_id, seq`);
  const outOfOrder: BookInvariantReport['outOfOrder'] = [];
  let prev: { stream_id: string; seq: number; lastNs: bigint } | null = null;
  const streams = new Set<string>();
  for (const f of frames) {
    const seq = Number(f.seq);
    const firstNs = BigInt(f.first_ns);
    const lastNs = BigInt(f.last_ns);
    streams.add(f.stream_id);
    if (firstNs !== lastNs) outOfOrder.push({ stream_id: f.stream_id, seq, problem: 'rows of more than one receipt share this seq' });
    if (prev && prev.stream_id === f.stream_id && !(firstNs > prev.lastNs)) {
      outOfOrder.push({ stream_id: f.stream_id, seq, problem: `received no later than seq ${prev.seq}` });
    }
    prev = { stream_id: f.stream_id, seq, lastNs };
  }
  return { snapshotsChecked: snapshots.length, crossed, framesChecked: frames.length, streams: streams.size, outOfOrder };
}
