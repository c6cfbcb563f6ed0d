/**
 * Batches depth rows and inserts them into ClickHouse as RowBinary, in order, with retries.
 *
 * - Rows are validated and encoded as they are pushed (a bad row rejects that push, whole, and
 *   nothing of it is kept), into the open batch's growing buffer.
 * - The open batch is sealed when it holds `maxRows` rows, when `maxDelayMs` has passed since its
 *   first row, on `flush()`/`close()`, or at once when the sink is over `maxBufferedRows`.
 *   A sealed batch's bytes never change: a retry sends exactly the same rows, so the rows'
 *   identity (ReplacingMergeTree key) is stable and a re-sent batch collapses onto the first copy.
 * - One insert at a time, oldest batch first. A failed insert is retried, same batch, after
 *   `initialMs`, doubling up to `maxMs`, for ever: never reordered, never dropped, never split.
 * - Backpressure: `push()` resolves at once while the rows held (open + sealed + in flight) are
 *   at most `maxBufferedRows`; above that it resolves only when inserts have brought them back
 *   down. A caller that awaits each push therefore holds memory to about `maxBufferedRows` rows.
 *
 * Spill (with `spill: { dir, maxBytes }`): when an insert fails, every sealed batch in memory is
 * written, in order, to a segment file (src/clickhouse/spill.ts: fsynced before it counts) and
 * dropped from memory; while segments are waiting, newly sealed batches go to disk too. The pump
 * replays segments oldest first (a new sink replays what an earlier process left), then memory
 * batches — the insert order never changes. A full spill (`SpillFullError`) or a failing disk is
 * logged as an error, counted in `spillStats().spillFullErrors` / `spillWriteErrors`, and batches
 * stay in memory (backpressure) until there is room; a disk error never drops a batch. See docs/clickhouse.md, "Durability".
 *
 * Quarantine (with `quarantine: { dir, pod }`): each failed insert is classified
 * (src/clickhouse/insertErrorKind.ts). Transient failures are retried as above, for ever. A batch
 * the server refuses for good (`permanent`, confirmed by a second attempt; `unknown` codes after a
 * few) is set aside on disk (src/clickhouse/quarantine.ts), a gap row per stream marks the hole in
 * the depth table, listeners hear of it, and the batches behind it go on. Without a quarantine
 * directory such a batch is retried for ever, as before.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { DepthRow } from '../book/depthRow';
import { nowNs } from '../gateway/gatewaySocket';
import { classifyInsertError, type ClassifiedInsertError } from './insertErrorKind';
import { QuarantineStore, type QuarantineRecord } from './quarantine';
import { DepthRowBinaryWriter, validateDepthRows } from './rowBinary';
import { depthInsertQuery, insertDepthRowBinary } from './rowBinaryInsert';
import { SpillCorruptError, SpillFullError, SpillStore, type SpillSegment } from './spill';

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The subset of a pino logger the sink uses. */
export interface DepthSinkLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
  debug?(obj: Record<string, unknown>, msg: string): void;
}

export interface DepthSinkOptions {
  client: ClickHouseClient;
  /** Default `ibflow`. */
  database?: string;
  /** Default `depth`. */
  table?: string;
  /** Seal and insert a batch when it reaches this many rows. Default 50,000. */
  maxRows?: number;
  /** Seal a batch this long after its first row at the latest. Default 250 ms. */
  maxDelayMs?: number;
  /** Backpressure bound on rows held in memory. Default 500,000; at least `maxRows`. */
  maxBufferedRows?: number;
  /** Backoff between attempts at a failed batch. Default 100 ms doubling to 10 s. */
  retry?: { initialMs?: number; maxMs?: number };
  log?: DepthSinkLogger;
  /** Spill sealed batches to disk segments while ClickHouse is unreachable. Off without it. */
  spill?: { dir: string; maxBytes: number };
  /** Called after each successful insert (benchmarks: receipt → queryable latency). */
  onBatchInserted?: (info: BatchInsertedInfo) => void;
  /** Set aside batches the server refuses for good, here (see the file header). Off without it. */
  quarantine?: { dir: string; maxBytes?: number; pod: string };
  /**
   * Failed attempts at one batch before it is quarantined: `permanent` errors (default 2: one retry
   * confirms the refusal is not a fluke of a server still loading its tables), `unknown` ones (default 5).
   */
  quarantineAfter?: { permanent?: number; unknown?: number };
}

/** A batch the sink set aside, and the gap rows it wrote for the hole. */
export interface QuarantinedBatch {
  record: QuarantineRecord;
  markers: DepthRow[];
}

export interface BatchInsertedInfo {
  rows: number;
  /** Receipt time of the batch's first and last row, ns since the epoch (0 when unknown). */
  firstNs: bigint;
  lastNs: bigint;
  /** When the insert was acknowledged (same clock as the receipt times). */
  ackNs: bigint;
  fromSpill: boolean;
}

export interface DepthSinkStats {
  rowsInserted: number;
  batchesInserted: number;
  /** Failed insert attempts (each retry that fails counts again). */
  insertErrors: number;
  /** Rows pushed and held in memory, not yet inserted (open batch + sealed + in flight). */
  bufferedRows: number;
  /** Batches and rows set aside in the quarantine since the sink started. */
  batchesQuarantined: number;
  rowsQuarantined: number;
  /** The latest failed insert, classified; null once a later insert succeeded. */
  lastInsertError: ClassifiedInsertError | null;
}

/** The spill's side of the sink (`spillStats()`), and the lag. */
export interface DepthSinkSpillStats {
  /** Rows, bytes and segments waiting on disk. */
  spilledRows: number;
  spillBytes: number;
  spillSegments: number;
  /** Batches written to disk since the sink started. */
  batchesSpilled: number;
  /** Times a batch did not fit in the spill (the batch stayed in memory). */
  spillFullErrors: number;
  /** Batches the disk refused (I/O errors other than a full spill); they stayed in memory. */
  spillWriteErrors: number;
  /** Segments that failed their checks and were set aside as `*.corrupt`. */
  corruptSegments: number;
  /** Receipt time (ns) of the oldest row not yet inserted, memory or disk; null when none. */
  oldestPendingNs: bigint | null;
}

interface Batch {
  id: number;
  rows: number;
  bytes: Buffer;
  /** The writer's buffer `bytes` is a view of, free for the next batch once this one is inserted. */
  backing?: Buffer;
  firstNs: bigint;
  lastNs: bigint;
}

interface Waiter {
  resolve: () => void;
  /** Flush waiter: until this batch id is inserted. Backpressure waiter: undefined. */
  untilBatch?: number;
}

export class SinkClosedError extends Error {
  override readonly name = 'SinkClosedError';
}

const noopLogger: DepthSinkLogger = { warn: () => undefined, error: () => undefined };

function positiveInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`DepthSink ${name}: ${value} is not a positive integer`);
  return value;
}

export class DepthSink {
  private readonly client: ClickHouseClient;
  private readonly insertQuery: string;
  private readonly maxRows: number;
  private readonly maxDelayMs: number;
  private readonly maxBufferedRows: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly log: DepthSinkLogger;
  private readonly spill: SpillStore | null;
  private readonly onBatchInserted: ((info: BatchInsertedInfo) => void) | null;
  private readonly database: string;
  private readonly table: string;
  private readonly quarantine: { store: QuarantineStore; pod: string } | null;
  private readonly quarantineAfterPermanent: number;
  private readonly quarantineAfterUnknown: number;
  private readonly quarantineListeners = new Set<(q: QuarantinedBatch) => void>();
  private batchesQuarantined = 0;
  private rowsQuarantined = 0;
  private lastInsertError: ClassifiedInsertError | null = null;

  private open: DepthRowBinaryWriter | null = null;
  private spare: Buffer | null = null;
  private openTimer: NodeJS.Timeout | null = null;
  private readonly sealed: Batch[] = [];
  private nextBatchId = 1;
  private lastInsertedBatchId = 0;
  /** Highest batch id inserted or durably on disk (batches reach either in id order). */
  private lastDurableBatchId = 0;
  private openFirstNs = 0n;
  private openLastNs = 0n;
  private batchesSpilled = 0;
  private spillFullErrors = 0;
  private spillWriteErrors = 0;
  private corruptSegments = 0;
  private spillFullLogged = false;
  private buffered = 0;
  private pumping = false;
  private closed = false;
  private readonly flushWaiters: (Waiter & { durable: boolean })[] = [];
  private readonly roomWaiters: Waiter[] = [];

  private rowsInserted = 0;
  private batchesInserted = 0;
  private insertErrors = 0;

  constructor(opts: DepthSinkOptions) {
    this.client = opts.client;
    this.maxRows = positiveInt('maxRows', opts.maxRows ?? 50_000);
    this.maxDelayMs = opts.maxDelayMs ?? 250;
    if (!Number.isFinite(this.maxDelayMs) || this.maxDelayMs < 0) throw new RangeError(`DepthSink maxDelayMs: ${this.maxDelayMs}`);
    this.maxBufferedRows = positiveInt('maxBufferedRows', opts.maxBufferedRows ?? 500_000);
    if (this.maxBufferedRows < this.maxRows) {
      throw new RangeError(`DepthSink maxBufferedRows (${this.maxBufferedRows}) must be at least maxRows (${this.maxRows})`);
    }
    this.retryInitialMs = opts.retry?.initialMs ?? 100;
    this.retryMaxMs = opts.retry?.maxMs ?? 10_000;
    if (!(this.retryInitialMs > 0) || !(this.retryMaxMs >= this.retryInitialMs)) {
      throw new RangeError(`DepthSink retry: need 0 < initialMs <= maxMs, got ${this.retryInitialMs}, ${this.retryMaxMs}`);
    }
    this.log = opts.log ?? noopLogger;
    this.database = opts.database ?? 'ibflow';
    this.table = opts.table ?? 'depth';
    this.quarantine = opts.quarantine ? { store: new QuarantineStore(opts.quarantine), pod: opts.quarantine.pod } : null;
    this.quarantineAfterPermanent = positiveInt('quarantineAfter.permanent', opts.quarantineAfter?.permanent ?? 2);
    this.quarantineAfterUnknown = positiveInt('quarantineAfter.unknown', opts.quarantineAfter?.unknown ?? 5);
    this.insertQuery = depthInsertQuery(this.database, this.table);
    this.spill = opts.spill ? new SpillStore(opts.spill) : null;
    this.onBatchInserted = opts.onBatchInserted ?? null;
    if (this.spill && this.spill.count > 0) {
      this.log.warn({ segments: this.spill.count, bytes: this.spill.bytes, dir: this.spill.dir }, 'depth spill holds batches from an earlier run; replaying them first');
      this.kick();
    }
  }

  /**
   * Accepts rows (all or none: a bad row throws and none of the call's rows are kept). Resolves at
   * once unless more than `maxBufferedRows` rows are held, then when inserts have made room.
   */
  async push(rows: readonly DepthRow[]): Promise<void> {
    if (this.closed) throw new SinkClosedError('DepthSink is closed');
    if (rows.length === 0) return;
    validateDepthRows(rows);
    this.append(rows);
    if (this.buffered > this.maxBufferedRows) {
      // Do not let a partly filled batch sit on its timer while callers wait for room.
      this.seal();
      await new Promise<void>((resolve) => this.roomWaiters.push({ resolve }));
    }
  }

  /**
   * `push()` without a promise, for a caller with nothing else waiting: takes the rows (all or none;
   * a bad row throws as in push) and returns true while the sink has room, else takes nothing and
   * returns false — then `push()` the rows and wait for it.
   */
  tryPush(rows: readonly DepthRow[]): boolean {
    if (this.closed) throw new SinkClosedError('DepthSink is closed');
    if (this.buffered + rows.length > this.maxBufferedRows) return false;
    if (rows.length === 0) return true;
    validateDepthRows(rows);
    this.append(rows);
    return true;
  }

  /** Encodes valid rows into the open batch, sealing full ones. */
  private append(rows: readonly DepthRow[]): void {
    let i = 0;
    while (i < rows.length) {
      if (this.open === null) {
        const initialBytes = Math.min(this.maxRows, Math.max(1024, rows.length - i)) * 64;
        this.open = new DepthRowBinaryWriter(initialBytes, this.takeSpare());
        this.openFirstNs = rows[i]!.receivedNs;
        this.openTimer = setTimeout(() => {
          this.openTimer = null;
          this.seal();
        }, this.maxDelayMs);
      }
      const take = Math.min(rows.length - i, this.maxRows - this.open.rows);
      this.open.write(rows, i, i + take, false);
      this.buffered += take;
      i += take;
      this.openLastNs = rows[i - 1]!.receivedNs;
      if (this.open.rows >= this.maxRows) this.seal();
    }
  }

  /** What waits in the quarantine for a replay; null without a quarantine. */
  quarantineStats(): { dir: string; records: number; bytes: number } | null {
    if (this.quarantine === null) return null;
    return { dir: this.quarantine.store.dir, ...this.quarantine.store.pending() };
  }

  /** Tells `listener` of every batch set aside in the quarantine; returns the unsubscribe. */
  onQuarantine(listener: (q: QuarantinedBatch) => void): () => void {
    this.quarantineListeners.add(listener);
    return () => this.quarantineListeners.delete(listener);
  }

  /**
   * Resolves once every row pushed before this call is inserted (or quarantined) — or, with
   * `durable`, inserted or written to the disk spill (where it survives this process and is
   * replayed by the next sink).
   */
  flush(opts: { durable?: boolean } = {}): Promise<void> {
    this.seal();
    const target = this.nextBatchId - 1;
    const durable = opts.durable === true && this.spill !== null;
    if ((durable ? this.lastDurableBatchId : this.lastInsertedBatchId) >= target) return Promise.resolve();
    return new Promise<void>((resolve) => this.flushWaiters.push({ resolve, untilBatch: target, durable }));
  }

  /**
   * Refuses further pushes, then flushes. While ClickHouse is unreachable this waits (and retries);
   * with a spill it waits only until every row is inserted or on disk.
   */
  async close(): Promise<void> {
    this.closed = true;
    // A batch quarantined meanwhile seals its gap rows after the flush began: flush those too.
    let sealedBefore: number;
    do {
      sealedBefore = this.nextBatchId;
      await this.flush({ durable: true });
    } while (this.nextBatchId !== sealedBefore || (this.open !== null && this.open.rows > 0));
  }

  stats(): DepthSinkStats {
    return {
      rowsInserted: this.rowsInserted,
      batchesInserted: this.batchesInserted,
      insertErrors: this.insertErrors,
      bufferedRows: this.buffered,
      batchesQuarantined: this.batchesQuarantined,
      rowsQuarantined: this.rowsQuarantined,
      lastInsertError: this.lastInsertError,
    };
  }

  spillStats(): DepthSinkSpillStats {
    return {
      spilledRows: this.spill?.rows ?? 0,
      spillBytes: this.spill?.bytes ?? 0,
      spillSegments: this.spill?.count ?? 0,
      batchesSpilled: this.batchesSpilled,
      spillFullErrors: this.spillFullErrors,
      spillWriteErrors: this.spillWriteErrors,
      corruptSegments: this.corruptSegments,
      oldestPendingNs: this.oldestPendingNs(),
    };
  }

  private oldestPendingNs(): bigint | null {
    const head = this.spill?.head();
    if (head && head.firstNs > 0n) return head.firstNs;
    if (this.sealed.length > 0) return this.sealed[0]!.firstNs;
    if (this.open !== null && this.open.rows > 0) return this.openFirstNs;
    return null;
  }

  private seal(): void {
    if (this.openTimer !== null) {
      clearTimeout(this.openTimer);
      this.openTimer = null;
    }
    const open = this.open;
    if (open === null || open.rows === 0) return;
    this.open = null;
    const bytes = open.finish();
    const batch: Batch = { id: this.nextBatchId++, rows: open.rows, bytes, firstNs: this.openFirstNs, lastNs: this.openLastNs };
    // finish() copied a small batch out: the writer's buffer is free now; else once the batch is inserted.
    if (bytes.buffer === open.backing.buffer) batch.backing = open.backing;
    else this.keepSpare(open.backing);
    // Segments are waiting and nothing older is in memory: keep the order by going to disk too.
    if (this.spill !== null && this.spill.count > 0 && this.sealed.length === 0 && this.spillOne(batch)) {
      this.kick();
      return;
    }
    this.sealed.push(batch);
    this.kick();
  }

  /**
   * Keeps one writer buffer for the next batch: at full rate every batch would otherwise allocate
   * and grow a multi-megabyte buffer, which the garbage collector then has to reclaim.
   */
  private keepSpare(buffer: Buffer): void {
    if (buffer.length > this.maxRows * 128) return; // an outsized one (huge strings): let it go
    if (this.spare === null || buffer.length > this.spare.length) this.spare = buffer;
  }

  private takeSpare(): Buffer | undefined {
    const spare = this.spare ?? undefined;
    this.spare = null;
    return spare;
  }

  /**
   * Writes one batch to disk; false (the batch stays in memory, where backpressure bounds it) when
   * the spill is full or the disk fails.
   */
  private spillOne(batch: Batch): boolean {
    try {
      this.spill!.append(batch);
    } catch (err) {
      if (err instanceof SpillFullError) this.spillFullErrors++;
      else this.spillWriteErrors++;
      if (!this.spillFullLogged) {
        this.spillFullLogged = true;
        const message = messageOf(err);
        this.log.error({ err: message }, err instanceof SpillFullError ? 'depth spill full' : 'depth spill write failed; rows are held in memory');
      }
      return false;
    }
    this.spillFullLogged = false;
    this.batchesSpilled++;
    this.buffered -= batch.rows;
    this.lastDurableBatchId = batch.id;
    this.wake();
    return true;
  }

  /** After a failed insert: every sealed batch in memory goes to disk, oldest first, while it fits. */
  private spillMemory(): void {
    while (this.sealed.length > 0) {
      const batch = this.sealed[0]!;
      if (!this.spillOne(batch)) return;
      this.sealed.shift();
    }
  }

  /**
   * Inserts batches one at a time, oldest first — disk segments (always older) before memory —
   * retrying each until it succeeds.
   */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      let attempt = 0;
      for (;;) {
        const segment = this.spill?.head();
        const batch = segment ? undefined : this.sealed[0];
        if (!segment && !batch) break;
        let bytes: Buffer;
        if (segment) {
          try {
            bytes = this.spill!.read(segment);
          } catch (err) {
            if (err instanceof SpillCorruptError) {
              let kept: string | undefined;
              try {
                kept = this.spill!.setAsideCorruptHead();
              } catch (renameErr) {
                kept = `(not renamed: ${messageOf(renameErr)})`;
              }
              this.corruptSegments++;
              this.log.error({ err: err.message, keptAs: kept, rows: segment.rows }, 'depth spill segment is corrupt; set aside, its rows are NOT inserted');
              continue;
            }
            // A disk error reading a good segment: it stays the head (order is kept); try again later.
            attempt++;
            const delay = this.retryDelayMs(attempt);
            this.log.warn({ err: messageOf(err), segment: segment.file, attempt, retryInMs: delay }, 'depth spill read failed; retrying');
            await new Promise<void>((resolve) => setTimeout(resolve, delay));
            continue;
          }
        } else {
          bytes = batch!.bytes;
        }
        const rows = segment ? segment.rows : batch!.rows;
        try {
          await this.insert(bytes);
        } catch (err) {
          attempt++;
          this.insertErrors++;
          const failure = classifyInsertError(err);
          this.lastInsertError = failure;
          const batchName = segment ? `spill:${segment.number}` : batch!.id;
          if (this.refusedForGood(failure, attempt)) {
            const first = segment ? segment.firstNs : batch!.firstNs;
            const last = segment ? segment.lastNs : batch!.lastNs;
            if (this.setAside({ id: segment ? segment.batchId : batch!.id, rows, bytes, firstNs: first, lastNs: last }, failure, attempt)) {
              this.settleHead(segment, batch, 'quarantined spill segment could not be deleted; the next start tries it again');
              attempt = 0;
              this.wake();
              continue;
            }
          }
          const delay = this.retryDelayMs(attempt);
          this.log.warn(
            { err: failure.message, kind: failure.kind, code: failure.code, batch: batchName, rows, attempt, retryInMs: delay },
            'depth insert failed; retrying the same batch',
          );
          if (this.spill !== null) this.spillMemory();
          await new Promise<void>((resolve) => setTimeout(resolve, delay));
          continue;
        }
        attempt = 0;
        this.lastInsertError = null;
        if (batch?.backing) this.keepSpare(batch.backing);
        const batchId = this.settleHead(segment, batch, 'inserted spill segment could not be deleted; the next start replays it (deduplicated by the row identity)');
        this.rowsInserted += rows;
        this.batchesInserted++;
        this.log.debug?.({ batch: batchId, rows, bytes: bytes.length, fromSpill: !!segment }, 'depth batch inserted');
        if (this.onBatchInserted) {
          this.onBatchInserted({
            rows,
            firstNs: segment ? segment.firstNs : batch!.firstNs,
            lastNs: segment ? segment.lastNs : batch!.lastNs,
            ackNs: nowNs(),
            fromSpill: !!segment,
          });
        }
        this.wake();
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * The head batch is dealt with (inserted or quarantined): off disk or out of memory, and counted
   * as settled for flush() and close(). Returns its id.
   */
  private settleHead(segment: SpillSegment | undefined, batch: Batch | undefined, undeletedWarning: string): number {
    let batchId: number;
    if (segment) {
      try {
        this.spill!.removeHead();
      } catch (err) {
        this.log.warn({ err: messageOf(err), segment: segment.file }, undeletedWarning);
      }
      batchId = segment.batchId;
    } else {
      this.sealed.shift();
      this.buffered -= batch!.rows;
      batchId = batch!.id;
    }
    if (batchId > this.lastInsertedBatchId) this.lastInsertedBatchId = batchId;
    if (batchId > this.lastDurableBatchId) this.lastDurableBatchId = batchId;
    return batchId;
  }

  private refusedForGood(failure: ClassifiedInsertError, attempt: number): boolean {
    if (this.quarantine === null) return false;
    if (failure.kind === 'permanent') return attempt >= this.quarantineAfterPermanent;
    if (failure.kind === 'unknown') return attempt >= this.quarantineAfterUnknown;
    return false;
  }

  /**
   * Writes the batch to the quarantine and its gap rows into the sink; false when the quarantine
   * cannot take it (full, disk error): the batch then stays where it is and is retried.
   */
  private setAside(batch: { id: number; rows: number; bytes: Buffer; firstNs: bigint; lastNs: bigint }, failure: ClassifiedInsertError, attempts: number): boolean {
    const { store, pod } = this.quarantine!;
    let record: QuarantineRecord;
    try {
      record = store.add(batch, { database: this.database, table: this.table, pod, error: failure, attempts });
    } catch (err) {
      this.log.error({ err: messageOf(err), refusedWith: failure.message, rows: batch.rows }, 'depth batch refused for good, but the quarantine cannot take it; retrying it (the sink is blocked behind it)');
      return false;
    }
    this.batchesQuarantined++;
    this.rowsQuarantined += batch.rows;
    const markers = record.streams.map(
      (s): DepthRow => ({ receivedNs: BigInt(s.lastNs), connection: s.connection, pod: s.pod, conid: s.conid, streamId: s.streamId, seq: s.toSeq, kind: 'gap', side: 'none', level: 0, price: 0, size: 0 }),
    );
    // The markers go in a batch of their own: sealed into the open batch, a row there that is refused
    // too (the same cause, still present) would take them into the quarantine with it, unmarking the hole.
    this.seal();
    this.append(markers);
    this.seal();
    this.log.error(
      { quarantine: record.id, rows: batch.rows, code: failure.code, errorName: failure.name, err: failure.message, streams: record.streams.length, dir: store.dir },
      'ClickHouse refused a depth batch for good: set aside in the quarantine, the hole marked with gap rows; the stream goes on (ibflow depth quarantine show/replay)',
    );
    for (const listener of this.quarantineListeners) {
      try {
        listener({ record, markers });
      } catch (err) {
        this.log.warn({ err: messageOf(err) }, 'a quarantine listener failed');
      }
    }
    return true;
  }

  private retryDelayMs(attempt: number): number {
    return Math.min(this.retryMaxMs, this.retryInitialMs * 2 ** Math.min(attempt - 1, 30));
  }

  /** Starts the pump if idle. It handles its own errors; this only guards against a bug crashing the worker. */
  private kick(): void {
    this.pump().catch((err: unknown) => {
      this.log.error({ err: messageOf(err) }, 'depth sink pump failed; restarting it');
      setTimeout(() => this.kick(), this.retryMaxMs);
    });
  }

  private insert(bytes: Buffer): Promise<void> {
    return insertDepthRowBinary(this.client, this.insertQuery, bytes);
  }

  private wake(): void {
    for (let i = this.flushWaiters.length - 1; i >= 0; i--) {
      const w = this.flushWaiters[i]!;
      if (w.untilBatch! <= (w.durable ? this.lastDurableBatchId : this.lastInsertedBatchId)) {
        this.flushWaiters.splice(i, 1);
        w.resolve();
      }
    }
    if (this.buffered <= this.maxBufferedRows && this.roomWaiters.length > 0) {
      const waiters = this.roomWaiters.splice(0);
      for (const w of waiters) w.resolve();
    }
  }
}
