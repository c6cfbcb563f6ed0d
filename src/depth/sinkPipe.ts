/**
 * Feed rows → the depth sink, in order, one push at a time (each push waits for the one before).
 * While more than one push is outstanding the sink is applying backpressure: the pipe pauses the
 * feed's socket and resumes it when the sink has caught up. Rows the sink refuses are lost, so the
 * pipe says so in the data — a gap row at the last refused frame of each ladder — and reports the
 * stream as failed, so the next one starts with a snapshot.
 */
import type { DepthRow } from '../book/depthRow';
import type { DepthSink } from '../clickhouse/depthSink';

/** The flow control of the feed behind the pipe. */
export interface PipeFlow {
  pause(): void;
  resume(): void;
}

export interface SinkPipeOptions {
  /** `tryPush`, where the sink has it, takes rows at once while it has room: no promise per frame. */
  sink: Pick<DepthSink, 'push'> & Partial<Pick<DepthSink, 'tryPush'>>;
  flow: PipeFlow;
  /** The gap row that marks a loss at `seq` on the current epoch of `conid` (undefined: not streamed). */
  gapRowFor(conid: number, seq: number): DepthRow | undefined;
  /** The sink refused rows: the stream must end. */
  failed(reason: string, error: unknown): void;
}

export class SinkPipe {
  /** Rows the sink refused (each loss marked with a gap row). */
  refusedRows = 0;
  /** The latest error the sink refused rows with; null while none. */
  error: unknown = null;
  private chain: Promise<void> = Promise.resolve();
  private outstanding = 0;
  private paused = false;

  constructor(private readonly opts: SinkPipeOptions) {}

  push(rows: DepthRow[]): void {
    if (rows.length === 0) return;
    // Nothing waiting ahead of these rows: the sink may take them synchronously (the common case;
    // a promise chain per frame costs more than the frame's encoding).
    if (this.outstanding === 0 && this.opts.sink.tryPush) {
      let taken: boolean;
      try {
        taken = this.opts.sink.tryPush(rows);
      } catch (err) {
        this.outstanding++;
        this.chain = this.chain.then(() => this.refused(rows, err)).finally(() => this.outstanding--);
        return;
      }
      if (taken) return;
    }
    this.outstanding++;
    if (this.outstanding > 1 && !this.paused) {
      this.paused = true;
      this.opts.flow.pause();
    }
    this.chain = this.chain
      .then(() => this.opts.sink.push(rows))
      .catch((err: unknown) => this.refused(rows, err))
      .finally(() => {
        this.outstanding--;
        if (this.outstanding <= 1 && this.paused) {
          this.paused = false;
          this.opts.flow.resume();
        }
      });
  }

  /** Resolves when every row pushed so far has been handed to the sink (or refused and marked). */
  drained(): Promise<void> {
    return this.chain;
  }

  private async refused(rows: DepthRow[], err: unknown): Promise<void> {
    this.error = err;
    this.refusedRows += rows.length;
    const lastSeq = new Map<number, number>();
    for (const r of rows) if (r.kind !== 'gap') lastSeq.set(r.conid, Math.max(lastSeq.get(r.conid) ?? 0, r.seq));
    const markers = [...lastSeq].flatMap(([conid, seq]) => {
      const marker = this.opts.gapRowFor(conid, seq);
      return marker ? [marker] : [];
    });
    await this.opts.sink.push(markers).catch(() => undefined);
    this.opts.failed(`the ClickHouse sink refused ${rows.length} rows: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}
