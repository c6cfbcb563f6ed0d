import type { DepthRow } from '../src/book/depthRow';

/** Levels per side, as the simulator's default ladder. */
export const LEVELS = 10;
/** Rows of one frame: LEVELS bids, LEVELS asks, one trade row. */
export const ROWS_PER_FRAME = 2 * LEVELS + 1;

/** Frame-shaped rows: each run of ROWS_PER_FRAME shares receipt time and seq, as normaliseDepthFrame makes them. */
export function frameShapedRows(n: number, streamId: string): DepthRow[] {
  const rows: DepthRow[] = [];
  let receivedNs = 1_700_000_000_000_000_000n;
  for (let i = 0; i < n; i++) {
    const seq = Math.floor(i / ROWS_PER_FRAME) + 1;
    const level = i % ROWS_PER_FRAME;
    if (level === 0) receivedNs += 100_000n;
    const side = level < LEVELS ? 'bid' : level < 2 * LEVELS ? 'ask' : 'trade';
    rows.push({ receivedNs, connection: 'paper-1', pod: 'pod-a', conid: 265598, streamId, seq, kind: 'snapshot', side, level: level % LEVELS, price: 171 + (i % 100) / 100, size: (i * 7) % 5000 });
  }
  return rows;
}
