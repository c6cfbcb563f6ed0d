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
 * Durability: rows are in memory until inserted; a crash loses what is buffered (spill-to-disk is
 * a later step, see docs/clickhouse.md).
 */
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import type { DepthRow } from '../book/depthRow';
import { DEPTH_COLUMNS, DepthRowBinaryWriter, validateDepthRows } from './rowBinary';
import { qualifiedName } from './sql';

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
}

export interface DepthSinkStats {
  rowsInserted: number;
  batchesInserted: number;
  /** Failed insert attempts (each retry that fails counts again). */
  insertErrors: number;
  /** Rows pushed and not yet inserted (open batch + sealed + in flight). */
  bufferedRows: number;
}

interface Batch {
  id: number;
  rows: number;
  bytes: Buffer;
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

  private open: DepthRowBinaryWriter | null = null;
  private openTimer: NodeJS.Timeout | null = null;
  private readonly sealed: Batch[] = [];
  private nextBatchId = 1;
  private lastInsertedBatchId = 0;
  private buffered = 0;
  private pumping = false;
  private closed = false;
  private readonly flushWaiters: Waiter[] = [];
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
    const table = qualifiedName(opts.database ?? 'ibflow', opts.table ?? 'depth');
    this.insertQuery = `INSERT INTO ${table} (${DEPTH_COLUMNS.join(', ')}) FORMAT RowBinary`;
  }

  /**
   * Accepts rows (all or none: a bad row throws and none of the call's rows are kept). Resolves at
   * once unless more than `maxBufferedRows` rows are held, then when inserts have made room.
   */
  async push(rows: readonly DepthRow[]): Promise<void> {
    if (this.closed) throw new SinkClosedError('DepthSink is closed');
    if (rows.length === 0) return;
    validateDepthRows(rows);
    let i = 0;
    while (i < rows.length) {
      if (this.open === null) {
        this.open = new DepthRowBinaryWriter(Math.min(this.maxRows, Math.max(1024, rows.length - i)) * 64);
        this.openTimer = setTimeout(() => {
          this.openTimer = null;
          this.seal();
        }, this.maxDelayMs);
      }
      const take = Math.min(rows.length - i, this.maxRows - this.open.rows);
      this.open.write(rows, i, i + take, false);
      this.buffered += take;
      i += take;
      if (this.open.rows >= this.maxRows) this.seal();
    }
    if (this.buffered > this.maxBufferedRows) {
      // Do not let a partly filled batch sit on its timer while callers wait for room.
      this.seal();
      await new Promise<void>((resolve) => this.roomWaiters.push({ resolve }));
    }
  }

  /** Resolves once every row pushed before this call is inserted. */
  flush(): Promise<void> {
    this.seal();
    const target = this.nextBatchId - 1;
    if (this.lastInsertedBatchId >= target) return Promise.resolve();
    return new Promise<void>((resolve) => this.flushWaiters.push({ resolve, untilBatch: target }));
  }

  /** Refuses further pushes, then flushes. While ClickHouse is unreachable this waits (and retries). */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  stats(): DepthSinkStats {
    return {
      rowsInserted: this.rowsInserted,
      batchesInserted: this.batchesInserted,
      insertErrors: this.insertErrors,
      bufferedRows: this.buffered,
    };
  }

  private seal(): void {
    if (this.openTimer !== null) {
      clearTimeout(this.openTimer);
      this.openTimer = null;
    }
    const open = this.open;
    if (open === null || open.rows === 0) return;
    this.open = null;
    this.sealed.push({ id: this.nextBatchId++, rows: open.rows, bytes: open.finish() });
    void this.pump();
  }

  /** Inserts sealed batches one at a time, oldest first, retrying each until it succeeds. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      let attempt = 0;
      while (this.sealed.length > 0) {
        const batch = this.sealed[0]!;
        try {
          await this.insert(batch);
        } catch (err) {
          attempt++;
          this.insertErrors++;
          const delay = Math.min(this.retryMaxMs, this.retryInitialMs * 2 ** Math.min(attempt - 1, 30));
          this.log.warn(
            { err: err instanceof Error ? err.message : String(err), batch: batch.id, rows: batch.rows, attempt, retryInMs: delay },
            'depth insert failed; retrying the same batch',
          );
          await new Promise<void>((resolve) => setTimeout(resolve, delay));
          continue;
        }
        attempt = 0;
        this.sealed.shift();
        this.buffered -= batch.rows;
        this.rowsInserted += batch.rows;
        this.batchesInserted++;
        this.lastInsertedBatchId = batch.id;
        this.log.debug?.({ batch: batch.id, rows: batch.rows, bytes: batch.bytes.length }, 'depth batch inserted');
        this.wake();
      }
    } finally {
      this.pumping = false;
    }
  }

  private async insert(batch: Batch): Promise<void> {
    const result = await this.client.exec({ query: this.insertQuery, values: Readable.from([batch.bytes]) });
    // Read the (empty) response to the end so the keep-alive socket goes back to the pool.
    const stream = result.stream;
    try {
      stream.resume();
      await finished(stream);
    } finally {
      stream.destroy();
    }
  }

  private wake(): void {
    for (let i = this.flushWaiters.length - 1; i >= 0; i--) {
      const w = this.flushWaiters[i]!;
      if (w.untilBatch! <= this.lastInsertedBatchId) {
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
