/**
 * `createOperations(config)`: the object every face (CLI, `up`, console, MCP server) holds. It owns
 * one lazily connected Temporal client and one lazily created ClickHouse client, closes both in
 * `close()`, and offers the operations of this folder bound to the config.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Client } from '@temporalio/client';
import type { IbflowConfig } from '../config/schema';
import type { ReloginResult, SessionStatus } from '../contract/sessionStatus';
import { connectTemporal, type ConnectedClient } from '../temporal/temporalClient';
import { shortReason } from '../temporal/temporalRpc';
import { createClickHouseClient, readQueryRunner, type RunQuery } from './clickhouseReads';
import { sessionStatusesWith, startConnectionWorkflowsWith, startDepthMaintenanceWith } from './connectionWorkflows';
import { bookAt, latestBook, spreadPerInterval, streamedRowCounts, streamGaps, updateRate, type Book, type InstrumentRate, type SpreadBucket, type StreamGap } from './depthQueries';
import { dropQuarantine, listQuarantine, replayQuarantine, showQuarantine, type QuarantineDetail, type ReplayOptions, type ReplayOutcome } from './depthQuarantine';
import type { QuarantineRecord } from '../clickhouse/quarantine';
import { TemporalUnreachableError } from './errors';
import {
  relogin,
  sessionStatusRows,
  setSessionPaused,
  stopConnectionWorkflows,
  type PauseOptions,
  type ReloginOptions,
  type SessionStatusRow,
  type SessionTarget,
  type StopOptions,
} from './sessionControl';
import { sessionUptime, type Uptime } from './uptimeQueries';

export interface OperationsOptions {
  /** How long the first Temporal connect may take. */
  temporalConnectTimeoutMs?: number;
}

type Range = { fromMs: number; toMs: number; connection?: string };

export interface Operations {
  readonly config: IbflowConfig;
  /** The Temporal client (connected on first use; TemporalUnreachableError when it cannot be). */
  temporal(): Promise<Client>;
  /** Runs one read query on ClickHouse (typed errors, see errors.ts). */
  readonly query: RunQuery;

  startConnectionWorkflows(progress: (line: string) => void, connections?: IbflowConfig['connections']): Promise<void>;
  startDepthMaintenance(progress: (line: string) => void): Promise<void>;
  sessionStatuses(connections?: readonly SessionTarget[]): Promise<SessionStatusRow[]>;
  /** Every configured connection's safe status (null while its workflow is not there yet). */
  statusByConnection(): Promise<Map<string, SessionStatus | null>>;
  relogin(c: SessionTarget, opts?: ReloginOptions): Promise<ReloginResult>;
  setPaused(c: SessionTarget, paused: boolean, opts?: PauseOptions): Promise<SessionStatus | null>;
  stopConnection(c: SessionTarget, opts: StopOptions): Promise<('session' | 'depth')[]>;

  bookAt(p: { conid: number; atMs: number; sinceMs: number; connection?: string }): Promise<Book | null>;
  latestBook(p: { conid: number; lookbackMs: number; connection?: string; nowMs?: number }): Promise<Book | null>;
  spread(p: Range & { conid: number; bucketMs: number }): Promise<SpreadBucket[]>;
  updateRate(p: Range & { conid?: number }): Promise<InstrumentRate[]>;
  streamGaps(p: Range & { conid?: number }): Promise<StreamGap[]>;
  uptime(p: Range): Promise<Uptime[]>;
  streamedRowCounts(): Promise<{ conid: number; rows: number }[]>;

  /** Depth batches ClickHouse refused for good, kept on this host's disk (src/operations/depthQuarantine.ts). */
  readonly quarantine: {
    list(p?: { pod?: string; replayed?: boolean }): QuarantineRecord[];
    show(id: string, p?: { pod?: string; previewRows?: number }): QuarantineDetail;
    /** Inserts as the ingest role (its own client, closed after). */
    replay(ids: readonly string[] | 'all', p?: Omit<ReplayOptions, 'client'>): Promise<ReplayOutcome[]>;
    drop(id: string, p?: { pod?: string }): QuarantineRecord;
  };

  close(): Promise<void>;
}

export function createOperations(config: IbflowConfig, opts: OperationsOptions = {}): Operations {
  let temporal: Promise<ConnectedClient> | null = null;
  let clickhouse: Promise<ClickHouseClient> | null = null;
  const database = config.clickhouse.database;

  const temporalClient = async (): Promise<Client> => {
    temporal ??= connectTemporal(config, opts.temporalConnectTimeoutMs ?? 10_000).catch((err: unknown) => {
      temporal = null; // the next call tries again
      throw new TemporalUnreachableError(config.temporal.address, shortReason(err));
    });
    return (await temporal).client;
  };
  const query: RunQuery = async <T>(sql: string) => {
    clickhouse ??= createClickHouseClient(config).catch((err: unknown) => {
      clickhouse = null;
      throw err;
    });
    return readQueryRunner(await clickhouse, { url: config.clickhouse.url, database })<T>(sql);
  };

  return {
    config,
    temporal: temporalClient,
    query,
    startConnectionWorkflows: async (progress, connections) =>
      startConnectionWorkflowsWith(await temporalClient(), connections ? { ...config, connections } : config, progress),
    startDepthMaintenance: async (progress) => startDepthMaintenanceWith(await temporalClient(), config, progress),
    sessionStatuses: async (connections) => sessionStatusRows(await temporalClient(), connections ?? config.connections),
    statusByConnection: async () => sessionStatusesWith(await temporalClient(), config),
    relogin: async (c, o) => relogin(await temporalClient(), c, o),
    setPaused: async (c, paused, o) => setSessionPaused(await temporalClient(), c, paused, o),
    stopConnection: async (c, o) => stopConnectionWorkflows(await temporalClient(), c, o),
    bookAt: (p) => bookAt(query, { database, ...p }),
    latestBook: (p) => latestBook(query, { database, ...p }),
    spread: (p) => spreadPerInterval(query, { database, ...p }),
    updateRate: (p) => updateRate(query, { database, ...p }),
    streamGaps: (p) => streamGaps(query, { database, ...p }),
    uptime: (p) => sessionUptime(query, { database, ...p }),
    streamedRowCounts: () => streamedRowCounts(query, { database }),
    quarantine: {
      list: (p) => listQuarantine(config, p),
      show: (id, p) => showQuarantine(config, id, p),
      replay: (ids, p) => replayQuarantine(config, ids, p),
      drop: (id, p) => dropQuarantine(config, id, p),
    },
    async close() {
      const [t, ch] = [temporal, clickhouse];
      temporal = clickhouse = null;
      await Promise.all([t?.then((c) => c.close(), () => undefined), ch?.then((c) => c.close(), () => undefined)]);
    },
  };
}
