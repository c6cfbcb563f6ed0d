/**
 * One normalised L2 depth row as stored in ClickHouse `ibflow.depth`.
 *
 * Every `sbd` frame becomes one row per ladder entry. Rows carry the identity
 * (connection, conid, streamId, seq, kind, side, level) so that a replayed batch collapses onto the
 * rows already stored (ReplacingMergeTree) instead of double-counting.
 */
export type BookSide = 'none' | 'bid' | 'ask' | 'trade';

/**
 * - `snapshot`: the frame was a full ladder (the simulator's default and what IBKR appears to send).
 * - `update`: the frame changed only some rows.
 * - `gap`: an explicit marker that the stream was (re)started or lost; data before it on this
 *   stream id is not continuous with data after it.
 */
export type DepthRowKind = 'snapshot' | 'update' | 'gap';

export interface DepthRow {
  /** Local receipt time, nanoseconds since the Unix epoch. */
  readonly receivedNs: bigint;
  readonly connection: string;
  readonly pod: string;
  readonly conid: number;
  /** One id per subscription epoch (a new websocket or a resubscribe starts a new one). */
  readonly streamId: string;
  /** Frame sequence within the stream epoch, starting at 1; gap markers use 0. */
  readonly seq: number;
  readonly kind: DepthRowKind;
  readonly side: BookSide;
  /** 0 is the best price on its side. */
  readonly level: number;
  readonly price: number;
  readonly size: number;
}
