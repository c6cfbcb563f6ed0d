/**
 * A focused harness for the depth stream: the real `streamDepth` activity run through
 * `@temporalio/testing`'s MockActivityEnvironment against a real simulator and a real ClickHouse
 * (with the real sink and disk spill). No Temporal server: workflow signals are recorded. Built on
 * the stack's depth stream rig (stack/depthStreamRig.ts), with the test kit's simulator.
 */
import { Writable } from 'node:stream';
import type { PodDependencies } from '../../activities/podDependencies';
import { startDepthStreamRig, type RunningStream, type SimSubscriptionStats } from '../../stack/depthStreamRig';
import type { SimulatorOptions } from '../../sim';
import type { DepthSink, BatchInsertedInfo } from '../../src/clickhouse/depthSink';
import type { DepthSettings, IbflowConfig } from '../../src/config/schema';
import { createLogger } from '../../src/logging/logger';
import { uniqueDatabase, type TestClickHouse } from '../support/clickhouseServer';
import { PAPER_USER, startTestSim, type TestSim } from '../sim/simTestKit';
import type { DepthInstrument } from '../../src/contract/depthTypes';

export type { RunningStream, SimSubscriptionStats };

export const ACCOUNT = PAPER_USER.accounts[0]!;
export const CONNECTION = 'harness-1';
export const POD = 'pod-h';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface Harness {
  ch: TestClickHouse;
  sim: TestSim;
  database: string;
  sink: DepthSink;
  spillDir: string;
  /** The sink's quarantine folder (`<config.stateDir>/quarantine/<pod>`). */
  quarantineDir: string;
  /** What the activity reads as its config (stateDir, depth, the connection). */
  config: IbflowConfig;
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

export interface HarnessOptions {
  sim?: Partial<SimulatorOptions>;
  depth?: Partial<DepthSettings>;
  /** Gateway URL override (a fake websocket server for malformed-frame tests). */
  gatewayUrl?: string;
  spillMaxBytes?: number;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
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
  const signals: Harness['signals'] = [];
  const rig = await startDepthStreamRig({
    user: PAPER_USER,
    connectionId: CONNECTION,
    pod: POD,
    database: uniqueDatabase('ibflow_depth'),
    startSimulator: () => startTestSim({ authDelayMs: 50, ...opts.sim }),
    depth: opts.depth,
    gatewayUrl: opts.gatewayUrl,
    spillMaxBytes: opts.spillMaxBytes,
    log,
    onSignal: (s) => signals.push(s),
  });

  const harness: Harness = {
    ch: rig.clickhouse,
    sim: rig.sim,
    database: rig.database,
    sink: rig.sink,
    spillDir: rig.spillDir,
    quarantineDir: rig.quarantineDir,
    config: rig.config,
    logs,
    signals,
    inserted: rig.inserted,
    deps: rig.deps,
    start: (instruments) => rig.start(instruments),
    simStats: () => rig.simStats(),
    simControl: (method, path, body) => rig.simControl(method, path, body),
    restartClickHouse: () => rig.restartClickHouse(),
    query: <T>(sql: string) => rig.query<T>(sql),
    cleanup: () => rig.cleanup(),
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
