import type { DepthRow } from '../src/book/depthRow';

/** Levels per side of the benchmarks' ladders (the simulator's default is 5; the end-to-end bench sets it to this). */
export const LEVELS = 10;
/** Rows of one frame: LEVELS bids, LEVELS asks, one trade row. */
export const ROWS_PER_FRAME = 2 * LEVELS + 1;

const FIRST_NS = 1_700_000_000_000_000_000n;

/** Receipt time of frame `frame`: 100 µs apart. */
function receivedNsOf(frame: number): bigint {
  return FIRST_NS + BigInt(frame + 1) * 100_000n;
}

/** Row `i` of the sequence: each run of ROWS_PER_FRAME shares receipt time and seq, as normaliseDepthFrame makes them. */
function rowAt(i: number, streamId: string, receivedNs = receivedNsOf(Math.floor(i / ROWS_PER_FRAME))): DepthRow {
  const frame = Math.floor(i / ROWS_PER_FRAME);
  const level = i % ROWS_PER_FRAME;
  const side = level < LEVELS ? 'bid' : level < 2 * LEVELS ? 'ask' : 'trade';
  return {
    receivedNs,
    connection: 'paper-1',
    pod: 'pod-a',
    conid: 265598,
    streamId,
    seq: frame + 1,
    kind: 'snapshot',
    side,
    level: level % LEVELS,
    price: 171 + (i % 100) / 100,
    size: (i * 7) % 5000,
  };
}

/** The first `n` rows of the sequence. */
export function frameShapedRows(n: number, streamId: string): DepthRow[] {
  const rows: DepthRow[] = new Array<DepthRow>(n);
  for (let i = 0; i < n; i++) rows[i] = rowAt(i, streamId);
  return rows;
}

/**
 * The rows of frame `frame` (from 0) of the same sequence, made fresh — as the feed hands the
 * sink rows it has just normalised, not rows that have aged in the heap.
 */
export function frameOfRows(frame: number, streamId: string): DepthRow[] {
  const rows: DepthRow[] = new Array<DepthRow>(ROWS_PER_FRAME);
  const first = frame * ROWS_PER_FRAME;
  // One receipt time for the frame, as normaliseDepthFrame shares ctx.receivedNs among a frame's rows.
  const receivedNs = receivedNsOf(frame);
  for (let k = 0; k < ROWS_PER_FRAME; k++) rows[k] = rowAt(first + k, streamId, receivedNs);
  return rows;
}
