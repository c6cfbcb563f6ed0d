/**
 * The depth quarantine as operators see it (`ibflow depth quarantine …`, later the console and
 * alerts): every pod's records on this host's disk, one record's rows, and putting records back
 * into ClickHouse once the cause is fixed.
 *
 * The records live where each pod worker keeps them (`<depth.quarantineDir>/<pod>`), so these run
 * where that folder is: the embedded stack or compose host, or inside the pod (kubectl exec).
 * A replay sends the batch's RowBinary bytes unchanged, as the ingest role: the rows keep their
 * identities, so a replay that is repeated (a crash after the insert, a second operator) collapses
 * onto the first copy (ReplacingMergeTree) instead of counting twice. The gap rows that marked the
 * hole stay: they record that the stream was interrupted there, which remains true.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { DepthRow } from '../book/depthRow';
import { createIbflowClickHouseClient } from '../clickhouse/clickhouseClient';
import { classifyInsertError } from '../clickhouse/insertErrorKind';
import { checkQuarantineId, QuarantineRecordNotFoundError, QuarantineStore, type QuarantineRecord } from '../clickhouse/quarantine';
import { quarantineDirFor, quarantinePods } from '../clickhouse/quarantineDirs';
import { decodeDepthRows } from '../clickhouse/rowBinaryDecode';
import { depthInsertQuery, insertDepthRowBinary } from '../clickhouse/rowBinaryInsert';
import { depthSettings, type IbflowConfig } from '../config/schema';
import { ClickHouseUnreachableError, QuarantineEntryMissingError, UnknownPodError } from './errors';

export { QuarantineEntryMissingError, UnknownPodError };

type QuarantineConfig = Pick<IbflowConfig, 'stateDir' | 'depth' | 'connections' | 'clickhouse'>;

/** One stored row as a face shows it: receipt time as ISO text plus the exact ns. */
export interface QuarantinedRowView {
  receivedAt: string;
  receivedNs: string;
  connection: string;
  conid: number;
  streamId: string;
  seq: number;
  kind: DepthRow['kind'];
  side: DepthRow['side'];
  level: number;
  price: number;
  size: number;
}

export interface QuarantineDetail {
  record: QuarantineRecord;
  /** The first `previewRows` rows of the batch, in the order they were sent. */
  preview: QuarantinedRowView[];
  /** How many rows the batch holds (the preview may show fewer). */
  totalRows: number;
  /** Where the record's files are. */
  dir: string;
}

export type ReplayOutcome =
  | { id: string; pod: string; outcome: 'replayed'; rows: number }
  | { id: string; pod: string; outcome: 'already_replayed'; rows: number; at: string | null }
  | { id: string; pod: string; outcome: 'failed'; rows: number; kind: string; code?: number; error: string };

function storeFor(config: QuarantineConfig, pod: string): QuarantineStore {
  return new QuarantineStore({ dir: quarantineDirFor(config, pod), maxBytes: depthSettings(config).quarantineMaxBytes });
}

function podsOf(config: QuarantineConfig, pod?: string): string[] {
  const known = quarantinePods(config);
  if (pod === undefined) return known;
  if (!known.includes(pod)) throw new UnknownPodError(pod, known);
  return [pod];
}

/** Records of every pod (or one), oldest first; with `replayed`, those already put back too. */
export function listQuarantine(config: QuarantineConfig, opts: { pod?: string; replayed?: boolean } = {}): QuarantineRecord[] {
  // The folder names the pod (a damaged record cannot say).
  const records = podsOf(config, opts.pod).flatMap((pod) => storeFor(config, pod).list({ replayed: opts.replayed ?? false }).map((r) => ({ ...r, pod })));
  return records.sort((a, b) => a.id.localeCompare(b.id));
}

/** The pod whose quarantine holds `id`, and its store (found by name: a damaged record too, so it can be dropped). */
function locate(config: QuarantineConfig, id: string, pod?: string): { pod: string; store: QuarantineStore } {
  try {
    checkQuarantineId(id);
  } catch (err) {
    throw new QuarantineEntryMissingError(id, (err as Error).message);
  }
  for (const p of podsOf(config, pod)) {
    const store = storeFor(config, p);
    if (store.has(id)) return { pod: p, store };
  }
  throw new QuarantineEntryMissingError(id, `no quarantine record ${id} on this host${pod ? ` for pod ${pod}` : ''} (ibflow depth quarantine list --replayed shows them all)`);
}

export function showQuarantine(config: QuarantineConfig, id: string, opts: { pod?: string; previewRows?: number } = {}): QuarantineDetail {
  const { store } = locate(config, id, opts.pod);
  const { record, payload } = store.get(id);
  const rows = decodeDepthRows(payload);
  const limit = Math.max(0, opts.previewRows ?? 20);
  return { record, preview: rows.slice(0, limit).map(rowView), totalRows: rows.length, dir: record.state === 'replayed' ? `${store.dir}/replayed` : store.dir };
}

function rowView(r: DepthRow): QuarantinedRowView {
  return {
    receivedAt: new Date(Number(r.receivedNs / 1_000_000n)).toISOString(),
    receivedNs: r.receivedNs.toString(),
    connection: r.connection,
    conid: r.conid,
    streamId: r.streamId,
    seq: r.seq,
    kind: r.kind,
    side: r.side,
    level: r.level,
    price: r.price,
    size: r.size,
  };
}

export interface ReplayOptions {
  pod?: string;
  /** The ingest client to use; by default one is created for the call (the ingest role) and closed after. */
  client?: ClickHouseClient;
  /** Told of each record as it is done (long replays). */
  progress?: (outcome: ReplayOutcome, index: number, total: number) => void;
}

/**
 * Puts records back into ClickHouse, oldest first: each pending record's bytes are inserted as
 * they were sent; success moves it to replayed/, failure is noted on the record and the next one
 * is tried. `ids === 'all'` replays every pending record (of `pod`, if given).
 */
export async function replayQuarantine(config: IbflowConfig, ids: readonly string[] | 'all', opts: ReplayOptions = {}): Promise<ReplayOutcome[]> {
  const targets =
    ids === 'all'
      ? listQuarantine(config, opts.pod !== undefined ? { pod: opts.pod } : {}).map((r) => ({ id: r.id, pod: r.pod, store: storeFor(config, r.pod) }))
      : ids.map((id) => ({ id, ...locate(config, id, opts.pod) }));
  const outcomes: ReplayOutcome[] = [];
  if (targets.length === 0) return outcomes;
  const client = opts.client ?? (await createIbflowClickHouseClient(config, 'ingest', { requestTimeoutMs: 60_000 }));
  try {
    for (const [i, t] of targets.entries()) {
      const outcome = await replayOne(client, config, t.store, t.id, t.pod);
      outcomes.push(outcome);
      opts.progress?.(outcome, i, targets.length);
    }
  } finally {
    if (!opts.client) await client.close();
  }
  return outcomes;
}

async function replayOne(client: ClickHouseClient, config: QuarantineConfig, store: QuarantineStore, id: string, pod: string): Promise<ReplayOutcome> {
  let found: ReturnType<QuarantineStore['get']>;
  try {
    found = store.get(id);
  } catch (err) {
    if (err instanceof QuarantineRecordNotFoundError) throw new QuarantineEntryMissingError(id, err.message);
    return { id, pod, outcome: 'failed', rows: 0, kind: 'damaged', error: `the record cannot be read: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}; drop it (ibflow depth quarantine drop ${id})` };
  }
  const { record, payload } = found;
  if (record.state === 'replayed') {
    const last = [...record.replays].reverse().find((r) => r.ok);
    return { id, pod, outcome: 'already_replayed', rows: record.rows, at: last?.at ?? null };
  }
  try {
    await insertDepthRowBinary(client, depthInsertQuery(record.database || config.clickhouse.database, record.table || 'depth'), payload);
  } catch (err) {
    const failure = classifyInsertError(err);
    const error = failure.message.split('\n')[0]!.slice(0, 300);
    // No answer at all: nothing was tried on the record, so it is left as it was.
    if (failure.kind === 'transient' && failure.code === undefined) throw new ClickHouseUnreachableError(config.clickhouse.url, error);
    store.recordReplay(id, { ok: false, error });
    return { id, pod, outcome: 'failed', rows: record.rows, kind: failure.kind, ...(failure.code !== undefined ? { code: failure.code } : {}), error };
  }
  store.recordReplay(id, { ok: true });
  return { id, pod, outcome: 'replayed', rows: record.rows };
}

/** Deletes a record and its rows for good (they are then only in the gap markers' hole). */
export function dropQuarantine(config: QuarantineConfig, id: string, opts: { pod?: string } = {}): QuarantineRecord {
  return locate(config, id, opts.pod).store.drop(id);
}
